# Benchmark handlers of bench/run-invoke.sh, for Sluice's own Python runtime client and for
# awslambdaric (the same file, unchanged, under both), and of bench/run-esm.sh (small, stamp).

import os
import time


def echo(event, context):
    """Returns the event: the runtime client parses it and serializes it again."""
    return event


def small(event, context):
    """A constant small result, so that a large event is not paid for twice on the way back."""
    return {"ok": True}


def stamp(event, context):
    """For bench/run-esm.sh: when each record of a Kinesis event reached the handler.

    Appends "<unix ns> <partitionKey>" per record to $BENCH_STAMP_DIR/<function name>.stamps
    in one write, then returns a small result.
    """
    now_ns = time.time_ns()
    lines = "".join("%d %s\n" % (now_ns, r["kinesis"]["partitionKey"]) for r in event["Records"])
    path = os.path.join(os.environ["BENCH_STAMP_DIR"], context.function_name + ".stamps")
    with open(path, "a") as f:
        f.write(lines)
    return {"ok": True}
