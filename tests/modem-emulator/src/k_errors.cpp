// SPDX-License-Identifier: Apache-2.0
#include "k_errors.hpp"

#include <map>

namespace uplinkd::emulator::kerr {

std::string text(int code) {
    static const std::map<int, const char*> kTexts = {
        {902, "no more sockets available"},
        {903, "memory problem"},
        {904, "DNS error"},
        {905, "TCP disconnection by the server or remote client"},
        {906, "TCP/UDP connection error"},
        {907, "generic error"},
        {908, "fail to accept client request"},
        {909, "data send by KTCPSND/KUDPSND are incoherent"},
        {910, "bad session ID"},
        {911, "session is already running"},
        {912, "no more sessions can be used"},
        {913, "socket connection timer timeout"},
        {914, "control socket connection timer timeout"},
        {915, "parameter is not expected"},
        {916, "parameter is out of range"},
        {917, "missing required parameter"},
        {918, "feature is not supported"},
        {919, "feature is not available"},
        {920, "protocol is not supported"},
        {921, "invalid bearer connection state"},
        {922, "invalid session state"},
        {923, "invalid terminate port data mode state"},
        {924, "session is busy"},
        {929, "input data format is invalid"},
        {930, "content is invalid"},
        {931, "parameter length is invalid"},
        {932, "parameter format is invalid"},
    };
    auto it = kTexts.find(code);
    return it == kTexts.end() ? std::string() : std::string(it->second);
}

}  // namespace uplinkd::emulator::kerr
