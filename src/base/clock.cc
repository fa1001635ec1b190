#include "base/clock.h"

namespace sluice {

SystemClock* SystemClock::instance() {
  static SystemClock clock;
  return &clock;
}

}  // namespace sluice
