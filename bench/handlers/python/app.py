# Benchmark handlers of bench/run-invoke.sh, for Sluice's own Python runtime client and for
# awslambdaric (the same file, unchanged, under both).


def echo(event, context):
    """Returns the event: the runtime client parses it and serializes it again."""
    return event


def small(event, context):
    """A constant small result, so that a large event is not paid for twice on the way back."""
    return {"ok": True}
