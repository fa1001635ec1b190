"""S3-compatible buckets end to end: boto3 and the AWS CLI (v1) against the real binary.

Path-style requests to --endpoint-url http://127.0.0.1:<port>; what is supported is in
docs/wire/s3.md. Every call has a deadline: botocore timeouts are short and retries are off."""

import base64
import hashlib
import http.client
import json
import os
import urllib.request
import xml.etree.ElementTree as ET
import zlib

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from test_lambda_functions import aws_cli

def s3_client(proc, region="us-east-1"):
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{proc.port}",
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            connect_timeout=5,
            read_timeout=10,
            retries={"max_attempts": 1, "mode": "standard"},
            s3={"addressing_style": "path"},
        ),
    )


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def cli(proc, *args, check=True):
    result = aws_cli(proc, *args)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def signed_headers(region="us-east-1"):
    """An Authorization header that routes a raw request to the S3 API (signatures are not
    verified; the credential scope names the service)."""
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=test/20240101/{region}/s3/"
                             "aws4_request, SignedHeaders=host, Signature=00"}


# ---- boto3 ----


def test_bucket_lifecycle_and_errors(server):
    s3 = s3_client(server)
    assert s3.list_buckets()["Buckets"] == []
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="beta", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    listed = s3.list_buckets()["Buckets"]
    assert [b["Name"] for b in listed] == ["alpha", "beta"]
    assert all(b["CreationDate"].year >= 2024 for b in listed)
    head = s3.head_bucket(Bucket="beta")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    assert s3.get_bucket_location(Bucket="beta")["LocationConstraint"] == "eu-west-1"
    assert s3.get_bucket_location(Bucket="alpha")["LocationConstraint"] is None

    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="alpha")
    assert error_of(e) == ("BucketAlreadyOwnedByYou", 409)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Not_Valid")
    assert error_of(e) == ("InvalidBucketName", 400)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="nope")
    assert error_of(e) == ("404", 404)  # HEAD errors have no body
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="nope")
    assert error_of(e) == ("NoSuchBucket", 404)
    assert e.value.response["Error"]["BucketName"] == "nope"

    s3.put_object(Bucket="alpha", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert error_of(e) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="alpha", Key="k")
    s3.delete_bucket(Bucket="alpha")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert error_of(e) == ("NoSuchBucket", 404)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["beta"]


def test_object_round_trip_with_metadata_checksums_and_ranges(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="bkt")
    body = os.urandom(100_000)
    put = s3.put_object(Bucket="bkt", Key="dir/data.bin", Body=body, ContentType="image/png",
                        Metadata={"owner": "me", "n": "1"}, CacheControl="no-cache")
    assert put["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    # botocore sends a CRC32 with every PutObject (a header over plain HTTP; a trailer of
    # an aws-chunked body over TLS, below); Sluice checks it and echoes it as S3 does.
    assert put["ChecksumCRC32"] == crc32_b64(body)

    got = s3.get_object(Bucket="bkt", Key="dir/data.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == body  # botocore also validates the CRC32 it got back
    assert got["ContentType"] == "image/png"
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"owner": "me", "n": "1"}
    assert got["CacheControl"] == "no-cache"
    assert got["ETag"] == put["ETag"]
    assert got["ChecksumCRC32"] == crc32_b64(body)
    assert "ContentEncoding" not in got  # aws-chunked is transport, not content

    head = s3.head_object(Bucket="bkt", Key="dir/data.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    assert head["LastModified"] == got["LastModified"]
    assert head["Metadata"]["owner"] == "me"

    part = s3.get_object(Bucket="bkt", Key="dir/data.bin", Range="bytes=10-19")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["Body"].read() == body[10:20]
    assert s3.get_object(Bucket="bkt", Key="dir/data.bin", Range="bytes=-5")["Body"].read() == \
        body[-5:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="dir/data.bin", Range=f"bytes={len(body)}-")
    assert error_of(e) == ("InvalidRange", 416)

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="dir/missing")
    assert error_of(e) == ("NoSuchKey", 404)
    assert e.value.response["Error"]["Key"] == "dir/missing"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="bkt", Key="dir/missing")
    assert error_of(e) == ("404", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="nope", Key="k", Body=b"x")
    assert error_of(e) == ("NoSuchBucket", 404)

    # Overwrite, then delete; deleting a missing key is 204 too.
    s3.put_object(Bucket="bkt", Key="dir/data.bin", Body=b"small")
    assert s3.get_object(Bucket="bkt", Key="dir/data.bin")["Body"].read() == b"small"
    assert s3.delete_object(Bucket="bkt", Key="dir/data.bin")[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket="bkt", Key="dir/data.bin")[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="dir/data.bin")
    assert error_of(e) == ("NoSuchKey", 404)


def test_aws_chunked_upload_with_crc32_trailer(server, monkeypatch):
    """What botocore sends over TLS (and other SDKs send over plain HTTP too): an aws-chunked
    body, STREAMING-UNSIGNED-PAYLOAD-TRAILER, HTTP chunked transfer, and the CRC32 in a
    trailer. botocore chooses that framing only for https URLs; make it believe this is one."""
    import botocore.httpchecksum
    import urllib.parse
    monkeypatch.setattr(botocore.httpchecksum, "urlparse",
                        lambda url: urllib.parse.urlparse(url)._replace(scheme="https"))
    sent = []
    s3 = s3_client(server)
    s3.meta.events.register("before-send.s3.PutObject",
                            lambda request, **_: sent.append(dict(request.headers)))
    s3.create_bucket(Bucket="chunky")
    body = os.urandom(3 * 1024 * 1024 + 5)  # several 1 MiB chunks and a short last one
    put = s3.put_object(Bucket="chunky", Key="k", Body=body, ContentType="text/csv")
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v
               for k, v in sent[-1].items()}
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert "aws-chunked" in headers["content-encoding"]
    assert headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert put["ChecksumCRC32"] == crc32_b64(body)
    assert put["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    got = s3.get_object(Bucket="chunky", Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/csv"
    assert got["ChecksumCRC32"] == crc32_b64(body)
    assert "ContentEncoding" not in got


def test_bad_checksum_is_refused_and_keeps_old_object(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"old")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k", Body=b"new", ChecksumCRC32=crc32_b64(b"other"))
    assert error_of(e) == ("BadDigest", 400)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k", Body=b"new",
                      ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert error_of(e) == ("BadDigest", 400)
    assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"old"
    # Other algorithms are checked as well.
    s3.put_object(Bucket="bkt", Key="k", Body=b"new", ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket="bkt", Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"new").digest()).decode()
    assert got["Body"].read() == b"new"


def test_list_objects_v2_prefix_delimiter_pagination(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="bkt")
    keys = ["top.txt", "logs/2024/01/a", "logs/2024/01/b", "logs/2024/02/c", "logs/readme",
            "media/ünïcode ✓.txt", "media/a+b=c&d", "z"]
    for k in keys:
        s3.put_object(Bucket="bkt", Key=k, Body=k.encode())

    flat = s3.list_objects_v2(Bucket="bkt")
    assert [o["Key"] for o in flat["Contents"]] == sorted(keys, key=lambda k: k.encode())
    assert flat["KeyCount"] == len(keys)
    assert flat["IsTruncated"] is False
    sizes = {o["Key"]: o["Size"] for o in flat["Contents"]}
    assert sizes["media/ünïcode ✓.txt"] == len("media/ünïcode ✓.txt".encode())

    root = s3.list_objects_v2(Bucket="bkt", Delimiter="/")
    assert [p["Prefix"] for p in root["CommonPrefixes"]] == ["logs/", "media/"]
    assert [o["Key"] for o in root["Contents"]] == ["top.txt", "z"]

    logs = s3.list_objects_v2(Bucket="bkt", Prefix="logs/2024/", Delimiter="/")
    assert [p["Prefix"] for p in logs["CommonPrefixes"]] == ["logs/2024/01/", "logs/2024/02/"]
    assert "Contents" not in logs

    media = s3.list_objects_v2(Bucket="bkt", Prefix="media/")
    assert [o["Key"] for o in media["Contents"]] == ["media/a+b=c&d", "media/ünïcode ✓.txt"]

    after = s3.list_objects_v2(Bucket="bkt", StartAfter="media/a+b=c&d")
    assert [o["Key"] for o in after["Contents"]] == ["media/ünïcode ✓.txt", "top.txt", "z"]

    # Pages of two, prefixes counted as entries, through botocore's paginator.
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket="bkt", Delimiter="/", PaginationConfig={"PageSize": 1}))
    assert len(pages) == 4
    seen = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])] + \
        [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert sorted(seen) == ["logs/", "media/", "top.txt", "z"]
    assert all(page["IsTruncated"] for page in pages[:-1])
    assert pages[-1]["IsTruncated"] is False

    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket="bkt", PaginationConfig={"PageSize": 3}))
    assert [o["Key"] for page in pages for o in page["Contents"]] == \
        sorted(keys, key=lambda k: k.encode())

    # ListObjects (v1) pages with markers.
    v1 = list(s3.get_paginator("list_objects").paginate(
        Bucket="bkt", PaginationConfig={"PageSize": 3}))
    assert [o["Key"] for page in v1 for o in page["Contents"]] == \
        sorted(keys, key=lambda k: k.encode())

    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="bkt", ContinuationToken="not base64!")
    assert error_of(e) == ("InvalidArgument", 400)


def test_keys_with_dot_dot_stay_inside_the_data_dir(launch, tmp_path):
    data = tmp_path / "data"
    proc = launch(data_dir=data)
    s3 = s3_client(proc)
    s3.create_bucket(Bucket="bkt")
    before = {p for p in tmp_path.rglob("*")}
    nasty = ["../../../../escape.txt", "a/../../b", "..", "./x", "//double", "%2e%2e/enc"]
    for k in nasty:
        s3.put_object(Bucket="bkt", Key=k, Body=k.encode())
    for k in nasty:
        assert s3.get_object(Bucket="bkt", Key=k)["Body"].read() == k.encode()
    created = {p for p in tmp_path.rglob("*")} - before
    assert created, "objects were stored somewhere"
    for p in created:
        assert str(p).startswith(str(data / "s3")), p
    assert not any("escape" in p.name for p in tmp_path.rglob("*"))
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]]
    assert sorted(listed) == sorted(nasty)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k" * 1025, Body=b"x")
    assert error_of(e) == ("KeyTooLongError", 400)


def test_copy_delete_objects_presign_and_multipart(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    s3.put_object(Bucket="src", Key="a", Body=b"payload", ContentType="text/plain",
                  Metadata={"m": "1"})
    copied = s3.copy_object(Bucket="dst", Key="b", CopySource={"Bucket": "src", "Key": "a"})
    assert copied["CopyObjectResult"]["ETag"] == '"' + hashlib.md5(b"payload").hexdigest() + '"'
    got = s3.get_object(Bucket="dst", Key="b")
    assert got["Body"].read() == b"payload"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"m": "1"}

    for i in range(3):
        s3.put_object(Bucket="dst", Key=f"d{i}", Body=b"x")
    deleted = s3.delete_objects(Bucket="dst", Delete={
        "Objects": [{"Key": "d0"}, {"Key": "d1"}, {"Key": "never-there"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["d0", "d1", "never-there"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="dst")["Contents"]] == ["b", "d2"]

    # SigV4 presigning: the credential scope in the query names the service. (botocore
    # presigns S3 with SigV2 unless told otherwise; those URLs carry no scope: docs/wire/s3.md.)
    v4 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{server.port}",
                      region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test", config=Config(signature_version="s3v4"))
    url = v4.generate_presigned_url("get_object", Params={"Bucket": "src", "Key": "a"},
                                    ExpiresIn=60)
    assert "X-Amz-Credential=" in url
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.read() == b"payload"

    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket="src", Key="big")
    assert error_of(e) == ("NotImplemented", 501)
    assert "multipart" in e.value.response["Error"]["Message"]


def test_error_xml_shape_and_request_id(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/no-such-bucket/some/key", headers=signed_headers())
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 404
    assert resp.getheader("Content-Type") == "application/xml"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(body)
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchBucket"
    assert root.findtext("Message") == "The specified bucket does not exist"
    assert root.findtext("BucketName") == "no-such-bucket"
    assert root.findtext("RequestId") == resp.getheader("x-amz-request-id")

    status, headers, body = server.request("PATCH", "/b", headers=signed_headers())
    assert status == 405
    assert ET.fromstring(body).findtext("Code") == "MethodNotAllowed"


def test_object_survives_kill_9_right_after_put(launch, tmp_path):
    data = tmp_path / "data"
    proc = launch(data_dir=data)
    s3 = s3_client(proc)
    s3.create_bucket(Bucket="durable")
    bodies = {f"k{i}": os.urandom(1000 + i) for i in range(5)}
    for k, body in bodies.items():
        s3.put_object(Bucket="durable", Key=k, Body=body)
    proc.proc.kill()  # SIGKILL right after the last PutObject returned
    proc.proc.wait(timeout=10)

    again = launch(data_dir=data)
    s3 = s3_client(again)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["durable"]
    for k, body in bodies.items():
        assert s3.get_object(Bucket="durable", Key=k)["Body"].read() == body


# ---- AWS CLI ----


def test_aws_cli_cp_ls_and_s3api(server, tmp_path):
    cli(server, "s3", "mb", "s3://cli-bucket")
    src = tmp_path / "upload.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    src.write_bytes(payload)
    cli(server, "s3", "cp", str(src), "s3://cli-bucket/dir/sub/upload.bin")
    (tmp_path / "note.txt").write_text("hello from the cli\n")
    cli(server, "s3", "cp", str(tmp_path / "note.txt"), "s3://cli-bucket/dir/note.txt")
    cli(server, "s3", "cp", str(tmp_path / "note.txt"), "s3://cli-bucket/top level.txt")

    out = cli(server, "s3", "ls").stdout
    assert out.strip().endswith("cli-bucket")

    out = cli(server, "s3", "ls", "s3://cli-bucket").stdout.splitlines()
    assert any(line.strip() == "PRE dir/" for line in out), out
    assert any(line.endswith(" top level.txt") for line in out), out

    out = cli(server, "s3", "ls", "s3://cli-bucket/dir/").stdout.splitlines()
    assert any(line.strip() == "PRE sub/" for line in out), out
    assert any(line.endswith(" 19 note.txt") for line in out), out

    out = cli(server, "s3", "ls", "--recursive", "s3://cli-bucket").stdout
    names = [line.split(None, 3)[3] for line in out.splitlines()]
    assert names == ["dir/note.txt", "dir/sub/upload.bin", "top level.txt"]
    assert f" {len(payload)} dir/sub/upload.bin" in out

    dst = tmp_path / "download.bin"
    cli(server, "s3", "cp", "s3://cli-bucket/dir/sub/upload.bin", str(dst))
    assert dst.read_bytes() == payload

    listed = json.loads(cli(server, "s3api", "list-objects-v2", "--bucket", "cli-bucket",
                                "--delimiter", "/", "--output", "json").stdout)
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dir/"]
    assert [o["Key"] for o in listed["Contents"]] == ["top level.txt"]

    head = json.loads(cli(server, "s3api", "head-object", "--bucket", "cli-bucket",
                              "--key", "dir/note.txt", "--output", "json").stdout)
    assert head["ContentLength"] == 19

    failed = cli(server, "s3api", "get-object", "--bucket", "cli-bucket", "--key", "nope",
                     str(tmp_path / "x"), check=False)
    assert failed.returncode != 0
    assert "NoSuchKey" in failed.stderr

    # Above its 8 MB multipart threshold the CLI starts a multipart upload: refused clearly.
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (9 * 1024 * 1024))
    failed = cli(server, "s3", "cp", str(big), "s3://cli-bucket/big.bin", check=False)
    assert failed.returncode != 0
    assert "NotImplemented" in failed.stderr and "multipart" in failed.stderr

    cli(server, "s3", "rm", "--recursive", "s3://cli-bucket")
    cli(server, "s3", "rb", "s3://cli-bucket")
    assert cli(server, "s3", "ls").stdout.strip() == ""
