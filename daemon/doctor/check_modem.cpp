// The doctor's modem checks (layer modem). Thread: loop.
#include "doctor/doctor.hpp"

namespace uplinkd::doctor {

void checkModem(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                std::function<void(std::vector<Finding>)> done) {
    (void)route;
    (void)so_far;
    done({});
}

}  // namespace uplinkd::doctor
