// The doctor's credentials checks (layer credentials). Thread: loop.
#include "doctor/doctor.hpp"

namespace uplinkd::doctor {

void checkCredentials(const RouteUnderTest& route, const std::vector<Finding>& so_far,
                      std::function<void(std::vector<Finding>)> done) {
    (void)route;
    (void)so_far;
    done({});
}

}  // namespace uplinkd::doctor
