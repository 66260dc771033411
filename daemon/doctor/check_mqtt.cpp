// The doctor's mqtt checks (layer mqtt). Thread: loop.
#include "doctor/doctor.hpp"

namespace uplinkd::doctor {

void checkMqtt(const RouteUnderTest& route, const std::vector<Finding>& so_far,
               std::function<void(std::vector<Finding>)> done) {
    (void)route;
    (void)so_far;
    done({});
}

}  // namespace uplinkd::doctor
