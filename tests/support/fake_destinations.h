#pragma once

#include "esm/destinations.h"

#include <mutex>
#include <string>
#include <vector>

namespace sluice::testing {

// An esm::FailureDestinations that keeps what it is given in memory. Any ARN exists unless
// set_missing(); set_failing(n) makes the next n deliveries fail (kUnavailable).
class FakeDestinations final : public esm::FailureDestinations {
 public:
  struct Delivered {
    std::string arn;
    esm::NoticeDelivery delivery;
  };

  Status check(std::string_view arn) const override {
    std::lock_guard lock(mu_);
    if (missing_) return Status::not_found("no such destination: " + std::string(arn));
    return Status();
  }
  Status deliver(std::string_view arn, const esm::NoticeDelivery& delivery) override {
    std::lock_guard lock(mu_);
    ++attempts_;
    if (failing_ > 0) {
      --failing_;
      return Status::unavailable("destination down");
    }
    delivered_.push_back({std::string(arn), delivery});
    return Status();
  }

  void set_missing(bool missing) {
    std::lock_guard lock(mu_);
    missing_ = missing;
  }
  void set_failing(int deliveries) {
    std::lock_guard lock(mu_);
    failing_ = deliveries;
  }
  std::vector<Delivered> delivered() const {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  int attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Delivered> delivered_;  // GUARDED_BY(mu_)
  int failing_ = 0;                   // GUARDED_BY(mu_)
  int attempts_ = 0;                  // GUARDED_BY(mu_)
  bool missing_ = false;              // GUARDED_BY(mu_)
};

}  // namespace sluice::testing
