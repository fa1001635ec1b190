"""The seed's temperature handler for a Kinesis event source mapping, made to work on the
events Sluice (and AWS) really send.

Each invocation carries a batch of records from one shard. Every record holds a base64 JSON
reading such as {"temperature": 21, "humidity": 50}; the handler converts the temperature from
Celsius to Fahrenheit, prints each reading and a summary line, and returns. Returning normally
tells Sluice the whole batch is done, so the shard's checkpoint moves past it; raising makes
Sluice retry the same batch.

The one correction to the seed: the seed reads record['data'], but real Kinesis events nest a
record's fields under 'kinesis', so the payload is record['kinesis']['data']. Everything else
behaves as the seed's code does.
"""

import base64
import json


def decode_reading(record):
    """The JSON document stored in one event record."""
    raw = base64.b64decode(record["kinesis"]["data"])
    return json.loads(raw.decode("utf-8"))


def convert_reading(reading):
    """Celsius to Fahrenheit; a missing temperature or humidity counts as 0, as in the seed."""
    return {
        "temperature": reading.get("temperature", 0) * 1.8 + 32,
        "humidity": reading.get("humidity", 0),
    }


def lambda_handler(event, context):
    converted = []
    for record in event["Records"]:
        reading = decode_reading(record)
        print(f"Processing record: {reading}")
        converted.append(convert_reading(reading))

    # Reaching this line means every record of the batch went through: the mapping's
    # checkpoint for this shard advances past the batch. An exception instead would make the
    # same batch come again, which is why side effects must be idempotent
    # (see handler_idempotent.py).
    print(f"Successfully processed {len(converted)} records.")
    return {
        "statusCode": 200,
        "body": json.dumps("Batch processed successfully!"),
    }
