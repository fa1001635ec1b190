// Benchmark handlers of bench/run-invoke.sh for the in-process runtime "sluice.cpp"
// (include/sluice/handler.h). One library, two entry points named in the function's Handler:
//   lib/bench_handler.so:bench_echo   the event bytes back, unchanged
//   lib/bench_handler.so:bench_small  a constant small result
// Neither parses the event or logs: what is measured is Sluice's cost, not the handler's.

#include <sluice/handler.h>
#include <string>
#include <string_view>

namespace {

using sluice::handler::Context;
using sluice::handler::Response;

Response echo(std::string_view event, const Context&) {
  return Response::success(std::string(event));
}

Response small(std::string_view, const Context&) { return Response::success(R"({"ok":true})"); }

}  // namespace

SLUICE_HANDLER_AS(bench_echo, echo)
SLUICE_HANDLER_AS(bench_small, small)
