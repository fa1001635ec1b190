#!/usr/bin/env python3
"""Sluice's runtime client for python3.x functions.

One process per execution environment. The engine starts it as
`python3 sluice_runtime.py` with cwd = LAMBDA_TASK_ROOT and the environment of
docs in src/runtime/clients/README.md. It loads the handler named by _HANDLER once, then loops:
GET /2018-06-01/runtime/invocation/next (blocks until the engine hands it an event), calls the
handler, and posts the result to .../response or an error document to .../error.

Handler loading, event and result marshalling, error documents and the logging format follow
spec/lambda-api.md sections 7, 8.1 and 9, which mirror what AWS's awslambdaric does, so a handler
sees the same objects and the caller the same error bodies as on AWS.

Standard library only; must stay importable by Python 3.9.
"""

import decimal
import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback
import urllib.parse

_API_PREFIX = "/2018-06-01/runtime"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_THIS_FILE = os.path.abspath(__file__)
# The engine captures output line by line; a multi-line error is kept on one line by joining its
# lines with CR and indenting with no-break spaces, as awslambdaric does.
_LOG_LINE_JOIN = "\r"
_LOG_INDENT = "\u00a0"

_current_request_id = None
_current_tenant_id = None


class Fault(Exception):
    """A failure the runtime itself reports with a Runtime.* error type."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def error_document(message, error_type, stack_trace, request_id=None):
    """The JSON object posted to /error and /init/error (key order as AWS sends it)."""
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def _user_frames(tb):
    """Formatted traceback frames, without the leading frames that belong to this file."""
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    first_user = 0
    while first_user < len(frames) and os.path.abspath(frames[first_user][0]) == _THIS_FILE:
        first_user += 1
    if first_user == len(frames):
        first_user = 0  # the failure is in the runtime itself: keep everything
    # Plain (file, line, name, text) tuples: no column carets, on every Python version.
    return traceback.format_list(frames[first_user:])


def document_for_exception(exc, request_id=None):
    if isinstance(exc, Fault):
        return error_document(exc.message, exc.error_type, exc.trace, request_id)
    return error_document(str(exc), type(exc).__name__, _user_frames(exc.__traceback__), request_id)


# ---------------------------------------------------------------------------------------------
# JSON


def _ensure_ascii():
    # python3.12 and later print non-ASCII characters as they are; older runtimes escape them.
    env = os.environ.get("AWS_EXECUTION_ENV", "")
    prefix = "AWS_Lambda_python3."
    if env.startswith(prefix):
        try:
            return int(env[len(prefix):]) < 12
        except ValueError:
            return True
    return True


class _Encoder(json.JSONEncoder):
    """Encodes Decimal as a JSON number with exactly its digits. The standard encoder cannot emit
    raw text, so each Decimal becomes a unique placeholder string that is swapped afterwards."""

    def __init__(self):
        super().__init__(ensure_ascii=_ensure_ascii(), allow_nan=True)
        self._nonce = "\u0001sluice-decimal-" + os.urandom(8).hex() + "-"
        self._raw = []

    def default(self, o):
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return float("nan")
            self._raw.append(str(o))
            return self._nonce + str(len(self._raw) - 1)
        return super().default(o)

    def encode(self, o):
        self._raw = []
        text = super().encode(o)
        if self._raw:
            quote = json.dumps(self._nonce, ensure_ascii=self.ensure_ascii)[:-1]
            for i, digits in enumerate(self._raw):
                text = text.replace(quote + str(i) + '"', digits, 1)
        return text


def to_json(value):
    return _Encoder().encode(value)


def marshal_result(result):
    """Returns (body bytes, content type). Raises Fault Runtime.MarshalError."""
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return to_json(result).encode("utf-8"), "application/json"
    except Exception as e:
        raise Fault("Runtime.MarshalError", "Unable to marshal response: {}".format(e))


def unmarshal_event(body, content_type):
    if content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: {}".format(e))


# ---------------------------------------------------------------------------------------------
# Runtime API


class RuntimeApiError(Exception):
    pass


class _Headers(dict):
    """Response headers by lower-cased name; get() takes any case."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class RuntimeApi:
    """HTTP/1.1 client of the engine's Runtime API on one keep-alive connection, over a plain
    socket: http.client (and the email parser it imports) cost more start-up time than the whole
    rest of the client, and more time per request than the exchange itself. The engine's server
    answers with Content-Length (chunked answers are read too). Not thread-safe: only the main
    loop calls it."""

    def __init__(self, address):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise RuntimeApiError(
                "AWS_LAMBDA_RUNTIME_API must be host:port, got {!r}".format(address))
        self._host = host.strip("[]")
        self._port = int(port)
        self._host_header = address
        self._sock = None
        self._buf = b""

    def _connect(self):
        # No timeout: /next is a long poll that may wait for hours.
        sock = socket.create_connection((self._host, self._port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._buf = b""

    def _close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._buf = b""

    def _fill(self):
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionResetError("the Runtime API closed the connection")
        self._buf += data

    def _read_until(self, marker):
        while True:
            at = self._buf.find(marker)
            if at >= 0:
                out, self._buf = self._buf[:at], self._buf[at + len(marker):]
                return out
            self._fill()

    def _read_exactly(self, n):
        if len(self._buf) < n:
            parts = [self._buf]
            have = len(self._buf)
            while have < n:
                data = self._sock.recv(max(65536, n - have))
                if not data:
                    raise ConnectionResetError("the Runtime API closed the connection")
                parts.append(data)
                have += len(data)
            self._buf = b"".join(parts)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _read_response(self):
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise RuntimeApiError("malformed status line {!r}".format(lines[0][:100]))
        headers = _Headers()
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";", 1)[0], 16)
                if size == 0:
                    while self._read_until(b"\r\n"):  # trailer lines, then an empty one
                        pass
                    break
                chunks.append(self._read_exactly(size))
                self._read_exactly(2)
            body = b"".join(chunks)
        else:
            body = self._read_exactly(int(headers.get("Content-Length", "0")))
        return int(parts[1]), headers, body

    def _send(self, method, path, body, headers):
        head = ["{} {} HTTP/1.1\r\nHost: {}\r\n".format(method, path, self._host_header)]
        for name, value in (headers or {}).items():
            head.append("{}: {}\r\n".format(name, value))
        if body is not None:
            if isinstance(body, str):
                body = body.encode("utf-8")
            head.append("Content-Length: {}\r\n".format(len(body)))
        head.append("\r\n")
        data = "".join(head).encode("latin-1")
        if body:
            if len(body) <= 65536:
                data += body
            else:
                self._sock.sendall(data)
                data = body
        self._sock.sendall(data)

    def _request(self, method, path, body=None, headers=None):
        """Returns (status, headers, body bytes). A keep-alive connection the server closed while
        idle is replaced once; any other transport failure raises RuntimeApiError."""
        for attempt in (1, 2):
            try:
                if self._sock is None:
                    self._connect()
                self._send(method, path, body, headers)
                status, resp_headers, data = self._read_response()
                if resp_headers.get("Connection", "").lower() == "close":
                    self._close()
                return status, resp_headers, data
            except (ConnectionResetError, BrokenPipeError) as e:
                self._close()
                if attempt == 2:
                    raise RuntimeApiError("{} {}: {}".format(method, path, e))
            except (OSError, ValueError) as e:
                self._close()
                raise RuntimeApiError("{} {}: {}".format(method, path, e))
        raise AssertionError("unreachable")

    def next_invocation(self):
        status, headers, body = self._request("GET", _API_PREFIX + "/invocation/next")
        if status != 200:
            raise RuntimeApiError("/invocation/next answered {}: {!r}".format(status, body[:200]))
        return headers, body

    def _post(self, path, body, headers):
        status, _, data = self._request("POST", path, body=body, headers=headers)
        if not 200 <= status < 300:
            raise RuntimeApiError("{} answered {}: {!r}".format(path, status, data[:200]))

    def post_response(self, request_id, body, content_type):
        self._post(_invocation_path(request_id, "response"), body, {"Content-Type": content_type})

    def post_error(self, request_id, document):
        self._post(_invocation_path(request_id, "error"), to_json(document).encode("utf-8"),
                   _error_headers(document))

    def post_init_error(self, document):
        self._post(_API_PREFIX + "/init/error", to_json(document).encode("utf-8"),
                   _error_headers(document))


def _invocation_path(request_id, what):
    return "{}/invocation/{}/{}".format(_API_PREFIX, urllib.parse.quote(request_id, safe=""), what)


def _error_headers(document):
    return {
        "Content-Type": "application/json",
        _ERROR_TYPE_HEADER: document["errorType"] or "Unknown",
    }


# ---------------------------------------------------------------------------------------------
# Handler loading (spec 8.1)


def load_handler(handler_name):
    """Imports the handler's module from sys.path and returns the handler attribute.
    Raises Fault for the Runtime.* cases; lets any other exception of the module's import through
    (it is reported with its own class name)."""
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(handler_name, e))

    if module_name.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module {} as a handler module".format(module_name),
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError",
                    "Unable to import module '{}': {}".format(module_name, e))
    except SyntaxError as e:
        where = '  File "{}" Line {}\n    {}'.format(e.filename, e.lineno, e.text)
        raise Fault(
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module '{}': {}".format(module_name, e),
            [where],
        )
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise Fault(
            "Runtime.HandlerNotFound",
            "Handler '{}' missing on module '{}'".format(function_name, module_name),
        )


def setup_sys_path(task_root):
    """Task root first, this client's own directory last (spec 8.1)."""
    own_dir = os.path.dirname(_THIS_FILE)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != own_dir]
    if task_root:
        sys.path.insert(0, task_root)
    sys.path.append(own_dir)


# ---------------------------------------------------------------------------------------------
# Context object (spec 9)


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code",
                 "app_package_name"]


class ClientContext:
    __slots__ = ["custom", "env", "client"]


def _object_from_dict(cls, values):
    if values is None:
        return None
    obj = cls()
    for name in cls.__slots__:
        setattr(obj, name, values.get(name) if isinstance(values, dict) else None)
    return obj


def _parse_header_json(text, what):
    try:
        return json.loads(text)
    except Exception as e:
        raise Fault("Runtime.LambdaContextUnmarshalError",
                    "Unable to parse {} JSON: {}".format(what, e))


class LambdaContext:
    """What the handler gets as its second argument. Fixed values come from the environment
    (spec 5.2); per-invocation values from the /next headers (spec 7.1)."""

    def __init__(self, request_id, invoked_function_arn, deadline_ms, client_context_json,
                 cognito_identity_json, tenant_id):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.tenant_id = tenant_id

        client_context = None
        if client_context_json:
            client_context = _parse_header_json(client_context_json, "Client Context")
        self.client_context = _object_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _object_from_dict(Client, self.client_context.client)

        self.identity = _object_from_dict(CognitoIdentity, {})
        if cognito_identity_json:
            identity = _parse_header_json(cognito_identity_json, "Cognito Identity")
            if isinstance(identity, dict):
                self.identity.cognito_identity_id = identity.get("cognitoIdentityId")
                self.identity.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")

        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        if self._deadline_ms is None:
            return 0
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return ("LambdaContext(aws_request_id={!r}, function_name={!r}, "
                "invoked_function_arn={!r})").format(
            self.aws_request_id, self.function_name, self.invoked_function_arn)


# ---------------------------------------------------------------------------------------------
# Logging


class _FlushingStream:
    """Wraps stdout/stderr so that every write reaches the engine at once."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        n = self._stream.write(text)
        self._stream.flush()
        return n

    def writelines(self, lines):
        self._stream.writelines(lines)
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id or ""
        record.tenant_id = _current_tenant_id
        return True


class _StdoutHandler(logging.Handler):
    def emit(self, record):
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


_STANDARD_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "aws_request_id", "tenant_id"}


class _JsonFormatter(logging.Formatter):
    """One JSON object per record, for AWS_LAMBDA_LOG_FORMAT=JSON."""

    def __init__(self):
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%SZ")

    def format(self, record):
        level = min(50, max(0, record.levelno)) // 10 * 10
        out = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": logging.getLevelName(level),
            "message": (record.msg if isinstance(record.msg, dict) and not record.args
                        else record.getMessage()),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        if record.exc_info:
            out["stackTrace"] = traceback.format_tb(record.exc_info[2])
            out["errorType"] = record.exc_info[0].__name__
            out["errorMessage"] = str(record.exc_info[1])
            out["location"] = "{}:{}:{}".format(record.pathname, record.funcName, record.lineno)
        if getattr(record, "tenant_id", None) is not None:
            out["tenantId"] = record.tenant_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_FIELDS and key not in out:
                out[key] = value
        out = {k: v for k, v in out.items() if v is not None}
        return json.dumps(out, ensure_ascii=False, default=str) + "\n"


def _json_log_format():
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def setup_logging():
    sys.stdout = _FlushingStream(sys.stdout)
    sys.stderr = _FlushingStream(sys.stderr)
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    if _json_log_format():
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level
    if level in ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL"):
        root.setLevel(level)


def log_error_document(document):
    """Writes the error to stdout before it is posted: one line, CR between its parts."""
    if _json_log_format():
        entry = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "ERROR"}
        entry.update(document)
        sys.stdout.write(to_json(entry) + "\n")
        return
    head = "[ERROR]"
    if document["errorType"]:
        head += " " + document["errorType"] + (":" if document["errorMessage"] else "")
    if document["errorMessage"]:
        head += " " + document["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for frame in document["stackTrace"]:
        for line in frame.splitlines() or [""]:
            stripped = line.lstrip(" ")
            lines.append(_LOG_INDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write(_LOG_LINE_JOIN.join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Main loop


def _set_trace_id(trace_id):
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def _int_or_none(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def handle_invocation(api, handler, headers, body):
    global _current_request_id, _current_tenant_id
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id") or ""
    _current_request_id = request_id
    _current_tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id")
    _set_trace_id(headers.get("Lambda-Runtime-Trace-Id"))
    try:
        context = LambdaContext(
            request_id,
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            _int_or_none(headers.get("Lambda-Runtime-Deadline-Ms")),
            headers.get("Lambda-Runtime-Client-Context"),
            headers.get("Lambda-Runtime-Cognito-Identity"),
            _current_tenant_id,
        )
        event = unmarshal_event(body, headers.get("Content-Type"))
        result = handler(event, context)
        payload, content_type = marshal_result(result)
    except Exception as e:  # SystemExit and KeyboardInterrupt end the process, as on AWS
        document = document_for_exception(e, request_id)
        log_error_document(document)
        api.post_error(request_id, document)
        return
    api.post_response(request_id, payload, content_type)


def _fatal(message):
    sys.stderr.write("sluice-runtime: {}\n".format(message))
    sys.exit(1)


def main():
    setup_logging()
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _fatal("AWS_LAMBDA_RUNTIME_API is not set")
    try:
        api = RuntimeApi(address)
    except RuntimeApiError as e:
        _fatal(str(e))

    handler_name = os.environ.get("_HANDLER") or (sys.argv[1] if len(sys.argv) > 1 else "")
    setup_sys_path(os.environ.get("LAMBDA_TASK_ROOT"))
    try:
        handler = load_handler(handler_name)
    except Exception as e:
        document = document_for_exception(e)
        log_error_document(document)
        try:
            api.post_init_error(document)
        except RuntimeApiError as post_failure:
            sys.stderr.write(
                "sluice-runtime: could not report the init error: {}\n".format(post_failure))
        sys.exit(1)

    while True:
        try:
            headers, body = api.next_invocation()
        except RuntimeApiError as e:
            _fatal(str(e))
        try:
            handle_invocation(api, handler, headers, body)
        except RuntimeApiError as e:
            # The engine refused the answer (e.g. 413 for an oversized result; it fails the
            # invocation itself). Keep serving: the next /next tells it we are ready.
            sys.stderr.write("sluice-runtime: {}\n".format(e))


if __name__ == "__main__":
    main()
