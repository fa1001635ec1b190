// Sluice's runtime client for nodejs18.x, nodejs20.x and nodejs22.x functions.
//
// One process per execution environment. The engine starts it as `node sluice_runtime.mjs` with
// cwd = LAMBDA_TASK_ROOT and the environment described in src/runtime/clients/README.md. It loads
// the handler named by _HANDLER once, then loops: GET /2018-06-01/runtime/invocation/next (blocks
// until the engine hands it an event), calls the handler, and posts the result to .../response
// or an error document to .../error.
//
// Handler lookup, calling conventions (async, promise, callback), the context object, error
// documents and console formatting follow spec/lambda-api.md sections 7, 8.2 and 9, which mirror
// AWS's aws-lambda-ric 3.x, so handlers behave here as they do on AWS.
//
// Node's standard library only; one self-contained file (the engine embeds it).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import util from 'node:util';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

// ------------------------------------------------------------------------------------------
// Errors the runtime raises itself. Their `name` is the errorType the caller sees.

function runtimeErrorClass(shortName) {
  const cls = class extends Error {};
  Object.defineProperty(cls, 'name', { value: shortName });
  cls.prototype.name = `Runtime.${shortName}`;
  return cls;
}
const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');
const NodeJsExit = runtimeErrorClass('NodeJsExit');
class UnhandledPromiseRejection extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function looksLikeError(v) {
  return (
    v && typeof v.name === 'string' && v.name && typeof v.message === 'string' && v.message &&
    typeof v.stack === 'string' && v.stack
  );
}

// The document posted to /error and /init/error: errorType from the error's name, errorMessage,
// and the stack as an array of lines; a thrown non-Error value gets its typeof as errorType.
function errorDocument(error) {
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: String(error.stack).split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'the error value could not be converted: reading its name, message or stack failed',
    };
  }
}

// An error with its own enumerable members, for the log line written before it is posted.
function errorForLog(error) {
  const plain = (_key, v) => {
    if (v instanceof Error) {
      const out = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
      if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
      return out;
    }
    return v;
  };
  try {
    return '\t' + JSON.stringify(error, plain);
  } catch (_) {
    return '\t' + JSON.stringify(errorDocument(error));
  }
}

// ------------------------------------------------------------------------------------------
// Console: every line gets `<ISO time>\t<request id>\t<LEVEL>\t`, newlines inside a message
// become CR so the engine sees one log line per call.

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const jsonLogs = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

function jsonLogLine(time, level, params) {
  const entry = { timestamp: time, level, requestId: globalThis[REQUEST_ID] };
  const errorFields = (e) => ({
    errorType: e?.constructor?.name ?? 'UnknownError',
    errorMessage: e.message,
    stackTrace: typeof e.stack === 'string' ? e.stack.split('\n') : e.stack,
  });
  if (params.length === 1) {
    entry.message = params[0];
    try {
      return JSON.stringify(entry, (_k, v) =>
        v instanceof Error ? Object.assign(errorFields(v), v) : v,
      );
    } catch (_) {
      entry.message = util.format(entry.message);
      return JSON.stringify(entry);
    }
  }
  entry.message = util.format(...params);
  const firstError = params.find((p) => p instanceof Error);
  if (firstError) Object.assign(entry, errorFields(firstError));
  return JSON.stringify(entry);
}

function writeLog(level, params) {
  const time = new Date().toISOString();
  const line = jsonLogs
    ? jsonLogLine(time, level, params)
    : `${time}\t${globalThis[REQUEST_ID]}\t${level}\t${util.format(...params)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const order = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  const wanted = order.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase());
  const min = wanted < 0 ? 0 : wanted;
  const make = (level) =>
    order.indexOf(level) >= min ? (...params) => writeLog(level, params) : () => {};
  console.trace = make('TRACE');
  console.debug = make('DEBUG');
  console.info = make('INFO');
  console.log = console.info;
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.fatal = (...params) => writeLog('FATAL', params);
}

function logError(what, error) {
  if (jsonLogs) {
    console.error(error instanceof Error ? error : new Error(error));
  } else {
    console.error(what, errorForLog(error instanceof Error ? error : new Error(error)));
  }
}

// ------------------------------------------------------------------------------------------
// Runtime API client: HTTP/1.1 on one keep-alive node:net socket, no timeouts (/next is a long
// poll). node:http (its parser, Agent and outgoing-message streams) took about as long per
// warm invocation as everything else in this loop, so requests are written here as one buffer
// and answers read by a small state machine: Content-Length and chunked bodies, a body that ends
// with the connection, and `Connection: close`, after which the next request opens a new socket.
// Not a general client: one peer, one request at a time. The socket is ref'd only while a
// request is in flight, as the Agent's idle sockets were unref'd: a callback handler waiting for
// an empty event loop, or a promise that never settles, must still let the loop drain to
// 'beforeExit'.

const EMPTY = Buffer.alloc(0);
const MAX_LINE_BYTES = 64 * 1024; // status line and headers, or one chunk-size line
const ONE_WRITE_BYTES = 64 * 1024; // bodies up to this are copied behind the head
// What Node's own HTTP client refuses in a header value (and what would let a value end the
// header): control characters other than tab, and anything above U+00FF.
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

// Parser states, per answer.
const HEAD = 0;
const BODY = 1; // Content-Length bytes left in `need`
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3; // `need` bytes of the current chunk left
const CHUNK_END = 4; // the CRLF after a chunk's data
const TRAILER = 5; // trailer lines up to an empty one
const UNTIL_CLOSE = 6; // no length given: the body is whatever arrives before the close

function transportError(message, code) {
  const e = new Error(message);
  e.code = code;
  return e;
}

// The request as buffers to write: one for a small request, head and body apart for a large
// body (no copy of it). Throws a TypeError for a header value Node's HTTP client would refuse.
function encodeRequest(method, urlPath, hostHeader, body, headers) {
  let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${hostHeader}\r\n`;
  if (headers) {
    for (const name of Object.keys(headers)) {
      const value = String(headers[name]);
      if (INVALID_HEADER_CHAR.test(value)) {
        throw new TypeError(`Invalid character in header content ["${name}"]`);
      }
      head += `${name}: ${value}\r\n`;
    }
  }
  if (body) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  if (!body || body.length === 0) return [Buffer.from(head, 'latin1')];
  if (body.length > ONE_WRITE_BYTES) return [Buffer.from(head, 'latin1'), body];
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return [out];
}

// True if the comma-separated header value lists `token` (case-insensitively).
function hasToken(value, token) {
  if (value === undefined) return false;
  return value
    .toLowerCase()
    .split(',')
    .some((t) => t.trim() === token);
}

class RuntimeApi {
  constructor(address) {
    const at = address.lastIndexOf(':');
    this.host = address.slice(0, at).replace(/^\[|\]$/g, '');
    this.port = Number.parseInt(address.slice(at + 1), 10);
    if (at <= 0 || !Number.isInteger(this.port)) {
      throw new Error(`AWS_LAMBDA_RUNTIME_API must be host:port, got '${address}'`);
    }
    this.hostHeader = address;
    this.socket = null;
    this.socketRequests = 0; // requests written to `socket` so far
    this.exchange = null; // the request in flight: one at a time, the rest wait in `queue`
    this.queue = [];
    this.resetParser();
  }

  // Resolves to { status, headers (lower-case names), body: Buffer }. Requests run one after
  // another on the one connection, in call order. A request whose reused keep-alive socket turns
  // out to be closed by the server (reset or closed before any byte of the answer) is sent once
  // more on a new socket.
  request(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      let data;
      try {
        data = encodeRequest(method, urlPath, this.hostHeader, body, headers);
      } catch (e) {
        reject(e);
        return;
      }
      const job = { method, data, resolve, reject, reused: false, retried: false };
      if (this.exchange) this.queue.push(job);
      else this.send(job);
    });
  }

  connect() {
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    let error = null;
    socket.on('data', (data) => this.onData(socket, data));
    socket.on('error', (e) => {
      error = e;
    });
    socket.on('close', () => this.onClose(socket, error));
    this.socket = socket;
    this.socketRequests = 0;
  }

  send(job) {
    if (!this.socket) {
      try {
        this.connect();
      } catch (e) {
        job.reject(e); // e.g. a port out of range
        this.sendQueued();
        return;
      }
    }
    const socket = this.socket;
    job.reused = this.socketRequests > 0;
    this.socketRequests += 1;
    this.exchange = job;
    this.resetParser();
    socket.ref();
    if (job.data.length === 1) {
      socket.write(job.data[0]);
    } else {
      socket.cork();
      for (const part of job.data) socket.write(part);
      socket.uncork();
    }
  }

  resetParser() {
    this.buf = EMPTY;
    this.gotBytes = false;
    this.state = HEAD;
    this.status = 0;
    this.headers = null;
    this.need = 0;
    this.parts = [];
    this.closeAfter = false;
  }

  onData(socket, data) {
    if (socket !== this.socket || !this.exchange) return; // nothing asked: stray bytes
    this.gotBytes = true;
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    try {
      this.parse();
    } catch (e) {
      this.fail(e);
    }
  }

  onClose(socket, error) {
    if (socket !== this.socket) return; // already given up on
    this.socket = null;
    const job = this.exchange;
    if (!job) return; // closed while idle: the next request connects anew
    if (this.state === UNTIL_CLOSE) {
      this.complete();
      return;
    }
    const e = error || transportError('the Runtime API closed the connection', 'ECONNRESET');
    this.exchange = null;
    const dropped = e.code === 'ECONNRESET' || e.code === 'EPIPE';
    if (job.reused && !job.retried && !this.gotBytes && dropped) {
      job.retried = true;
      this.send(job);
      return;
    }
    job.reject(e);
    this.sendQueued();
  }

  // Ends the exchange in flight with `error` and drops the connection, whose state is unknown.
  fail(error) {
    const job = this.exchange;
    this.exchange = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.destroy();
    if (job) job.reject(error);
    this.sendQueued();
  }

  sendQueued() {
    const job = this.queue.shift();
    if (job) this.send(job);
  }

  // Consumes `buf` as far as it goes; throws on a malformed answer.
  parse() {
    while (this.exchange) {
      switch (this.state) {
        case HEAD: {
          const end = this.buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (this.buf.length > MAX_LINE_BYTES) throw new Error('response head too long');
            return;
          }
          const head = this.buf.toString('latin1', 0, end);
          this.buf = this.buf.subarray(end + 4);
          this.parseHead(head);
          break;
        }
        case BODY:
        case CHUNK_DATA: {
          const n = Math.min(this.need, this.buf.length);
          if (n > 0) {
            this.parts.push(this.buf.subarray(0, n));
            this.buf = this.buf.subarray(n);
            this.need -= n;
          }
          if (this.need > 0) return;
          if (this.state === BODY) this.complete();
          else this.state = CHUNK_END;
          break;
        }
        case CHUNK_SIZE:
        case TRAILER: {
          const eol = this.buf.indexOf('\r\n');
          if (eol < 0) {
            if (this.buf.length > MAX_LINE_BYTES) throw new Error('response line too long');
            return;
          }
          const line = this.buf.toString('latin1', 0, eol);
          this.buf = this.buf.subarray(eol + 2);
          if (this.state === TRAILER) {
            if (line === '') this.complete();
            break;
          }
          const size = line.split(';', 1)[0].trim();
          if (!/^[0-9a-fA-F]{1,8}$/.test(size)) throw new Error(`bad chunk size '${size}'`);
          this.need = Number.parseInt(size, 16);
          this.state = this.need === 0 ? TRAILER : CHUNK_DATA;
          break;
        }
        case CHUNK_END: {
          if (this.buf.length < 2) return;
          if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a) {
            throw new Error('chunk data not followed by CRLF');
          }
          this.buf = this.buf.subarray(2);
          this.state = CHUNK_SIZE;
          break;
        }
        case UNTIL_CLOSE: {
          if (this.buf.length > 0) this.parts.push(this.buf);
          this.buf = EMPTY;
          return;
        }
      }
    }
  }

  parseHead(head) {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
    if (!m) throw new Error(`malformed status line '${lines[0].slice(0, 100)}'`);
    const status = Number(m[2]);
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon <= 0) continue;
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    if (status < 200) return; // an interim answer (100 Continue): the real one follows
    this.status = status;
    this.headers = headers;
    const connection = headers['connection'];
    this.closeAfter =
      hasToken(connection, 'close') || (m[1] === '0' && !hasToken(connection, 'keep-alive'));
    const coding = headers['transfer-encoding'];
    if (coding !== undefined && coding.toLowerCase().trim().endsWith('chunked')) {
      this.state = CHUNK_SIZE;
    } else if (headers['content-length'] !== undefined) {
      if (!/^\d{1,15}$/.test(headers['content-length'])) {
        throw new Error(`bad Content-Length '${headers['content-length']}'`);
      }
      this.need = Number(headers['content-length']);
      this.state = BODY;
    } else if (this.exchange.method === 'HEAD' || status === 204 || status === 304) {
      this.state = BODY;
    } else {
      this.state = UNTIL_CLOSE;
      this.closeAfter = true;
    }
  }

  // The answer is whole: hand it over, keep or drop the connection, start the next request.
  complete() {
    const job = this.exchange;
    this.exchange = null;
    const parts = this.parts;
    const body = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const socket = this.socket;
    if (this.closeAfter) {
      this.socket = null;
      if (socket) socket.destroy();
    } else if (socket) {
      socket.unref();
    }
    const res = { status: this.status, headers: this.headers, body };
    this.parts = [];
    job.resolve(res);
    this.sendQueued();
  }

  async nextInvocation() {
    const res = await this.request('GET', `${API_PREFIX}/invocation/next`);
    if (res.status !== 200) {
      const text = res.body.toString('utf8', 0, 200);
      throw new Error(`/invocation/next answered ${res.status}: ${text}`);
    }
    return { headers: res.headers, body: res.body.toString('utf8') };
  }

  // `payload` is a string (sent as UTF-8) or a Buffer; Content-Length is added by the encoder.
  async post(urlPath, payload, extraHeaders) {
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
    const headers = Object.assign({ 'Content-Type': 'application/json' }, extraHeaders);
    const res = await this.request('POST', urlPath, body, headers);
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`${urlPath} answered ${res.status}: ${res.body.toString('utf8', 0, 200)}`);
    }
  }

  postResponse(id, payload, contentType = 'application/json') {
    return this.post(invocationPath(id, 'response'), payload, { 'Content-Type': contentType });
  }

  postError(id, error) {
    const doc = errorDocument(error);
    const headers = { [ERROR_TYPE_HEADER]: String(doc.errorType) };
    return this.post(invocationPath(id, 'error'), JSON.stringify(doc), headers);
  }

  postInitError(error) {
    const doc = errorDocument(error);
    const headers = { [ERROR_TYPE_HEADER]: String(doc.errorType) };
    return this.post(`${API_PREFIX}/init/error`, JSON.stringify(doc), headers);
  }
}

function invocationPath(id, what) {
  return `${API_PREFIX}/invocation/${encodeURIComponent(id)}/${what}`;
}

// JSON for a handler's result; undefined becomes null.
function serializeResult(result) {
  try {
    return JSON.stringify(result === undefined ? null : result);
  } catch (_) {
    throw new Error('Unable to stringify response body');
  }
}

// ------------------------------------------------------------------------------------------
// Handler loading (spec 8.2)

function hasTypeModule(dir) {
  // Nearest package.json decides; the search stops at node_modules and at the root.
  for (let d = dir; ; d = path.dirname(d)) {
    if (d.endsWith('/node_modules')) return false;
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
        if (pkg) return pkg.type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read; it is ignored when deciding on ES modules.`, e);
        return false;
      }
    }
    if (d === '/' || path.dirname(d) === d) return false;
  }
}

const requireIfExists = (file) => (fs.existsSync(file) ? require(file) : undefined);
const importIfExists = async (file) =>
  fs.existsSync(file) ? import(pathToFileURL(file).href) : undefined;

async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = requireIfExists(base);
  if (extensionless) return extensionless;

  const esmJs = fs.existsSync(base + '.js') && hasTypeModule(path.dirname(base + '.js'));
  if (!esmJs) {
    const cjs = requireIfExists(base + '.js');
    if (cjs) return cjs;
  }
  const loaded =
    (esmJs && (await importIfExists(base + '.js'))) ||
    (await importIfExists(base + '.mjs')) ||
    requireIfExists(base + '.cjs');
  if (loaded) return loaded;

  // A package under node_modules, resolved from the task root and the handler's directory.
  const paths = [appRoot, path.resolve(appRoot, moduleRoot)];
  return require(require.resolve(moduleName, { paths }));
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. ` +
        'Use absolute paths when specifying root directories in handler names.',
    );
  }
  const basename = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(basename));
  const match = basename.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, propertyPath] = match;

  installAwslambdaGlobal();
  let mod;
  try {
    mod = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  const fn = propertyPath.split('.').reduce((obj, key) => obj && obj[key], mod);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

// `awslambda.streamifyResponse(handler)` marks a streaming handler. Sluice buffers the stream and
// posts it as one ordinary response (spec 7.2).
function installAwslambdaGlobal() {
  const off = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') return;
  globalThis.awslambda = {
    streamifyResponse: (handler) => {
      handler[STREAMING] = 'response';
      return handler;
    },
    HttpResponseStream: {
      from: (stream, _prelude) => stream,
    },
  };
}

// ------------------------------------------------------------------------------------------
// Invocation loop

// The action to run when the event loop drains: completes a callback handler that asked to wait
// for an empty event loop, or answers for a handler that never answered.
let beforeExitAction = null;

// Set once the process has decided to exit after reporting a crash: no further /next, which the
// engine would count as the end of init (spec 7.4) or as readiness.
let exiting = false;

// Reports a crash with `post` (a function returning a promise), then exits with `code`.
function reportAndExit(post, code) {
  exiting = true;
  post()
    .catch((e) => {
      process.stderr.write(`sluice-runtime: could not report the error: ${e.message}\n`);
    })
    .finally(() => process.exit(code));
}

function lowerCaseKeys(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

function parseHeaderJson(text, what) {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`Cannot parse ${what} as json: ${e.toString()}`);
  }
}

class Runtime {
  constructor(api, handler) {
    this.api = api;
    this.handler = handler;
    this.isAsync = handler[Symbol.toStringTag] === 'AsyncFunction';
    this.streaming = handler[STREAMING] === 'response';
    this.onUncaught = (error) => reportAndExit(() => this.api.postInitError(error), 129);
    this.onUnhandledRejection = (error) => reportAndExit(() => this.api.postInitError(error), 128);
  }

  scheduleNext() {
    setImmediate(() => {
      this.handleOne().catch((err) => {
        console.log(`Unexpected Top Level Error: ${err}`);
        this.onUncaught(err);
      });
    });
  }

  async handleOne() {
    if (exiting) return;
    let next;
    try {
      next = await this.api.nextInvocation();
    } catch (e) {
      process.stderr.write(`sluice-runtime: cannot get the next invocation: ${e.message}\n`);
      process.exit(1);
    }
    const headers = lowerCaseKeys(next.headers);
    const id = headers['lambda-runtime-aws-request-id'];
    if (!id) {
      process.stderr.write('sluice-runtime: /next gave no Lambda-Runtime-Aws-Request-Id\n');
      process.exit(1);
    }
    globalThis[REQUEST_ID] = id;

    this.onUncaught = (error) => reportAndExit(() => this.api.postError(id, error), 129);
    this.onUnhandledRejection = (error) => reportAndExit(() => this.api.postError(id, error), 128);

    const { callback, context, markCompleted } = this.callbackContext(id);
    beforeExitAction = () => {
      markCompleted();
      if (this.isAsync) {
        const err = new NodeJsExit(
          'The handler returned a promise that never settled and the event loop is empty: ' +
            'no result to return.',
        );
        logError('Invoke Error', err);
        this.send(() => this.api.postError(id, err));
      } else {
        // A sync handler that never called its callback: AWS answers null.
        this.send(() => this.api.postResponse(id, 'null'));
      }
    };

    try {
      this.fillContext(context, headers, id);
      const event = JSON.parse(next.body);
      if (this.streaming) {
        await this.runStreaming(event, context, id);
        return;
      }
      const result = this.handler(event, context, callback);
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  // Posts, logs a refused post, then asks for the next event either way.
  send(post) {
    post()
      .catch((e) => process.stderr.write(`sluice-runtime: ${e.message}\n`))
      .finally(() => this.scheduleNext());
  }

  fillContext(context, headers, id) {
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    const trace = headers['lambda-runtime-trace-id'];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    Object.assign(context, {
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parseHeaderJson(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseHeaderJson(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: id,
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      xRayTraceId: trace,
      getRemainingTimeInMillis: () =>
        Number.isFinite(deadline) ? Math.max(deadline - Date.now(), 0) : 0,
    });
  }

  // callback(err, result), context.done/succeed/fail and callbackWaitsForEmptyEventLoop. Only the
  // first call of any of them counts.
  callbackContext(id) {
    let waitForEmptyEventLoop = true;
    let completed = false;
    let finished = false;

    const postError = (err) => {
      logError('Invoke Error', err);
      this.send(() => this.api.postError(id, err));
    };
    const complete = (result) => {
      if (completed) {
        console.error('The invocation was already answered; a second answer is ignored.');
        return;
      }
      completed = true;
      let body;
      try {
        body = serializeResult(result);
      } catch (err) {
        postError(err);
        return;
      }
      this.send(() => this.api.postResponse(id, body));
    };
    const done = (err, result) => {
      beforeExitAction = null;
      if (err !== undefined && err !== null) postError(err);
      else complete(result);
    };
    const callback = (err, result) => {
      beforeExitAction = null;
      if (err !== undefined && err !== null) postError(err);
      else if (!waitForEmptyEventLoop) complete(result);
      else beforeExitAction = () => setImmediate(() => complete(result));
    };
    const once = (fn) => (...args) => {
      if (!finished) {
        fn(...args);
        finished = true;
      }
    };
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: once((result) => done(null, result)),
      fail: once((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
      done: once(done),
    };
    return { callback: once(callback), context, markCompleted: () => (completed = true) };
  }

  // Streaming handlers get (event, responseStream, context); the stream is collected and posted
  // as one response when the handler's promise settles and the stream has ended.
  async runStreaming(event, context, id) {
    beforeExitAction = null;
    const chunks = [];
    const stream = new Writable({
      write(chunk, encoding, cb) {
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
        cb();
      },
    });
    let contentType = 'application/octet-stream';
    stream.setContentType = (type) => {
      contentType = String(type);
    };
    try {
      const pending = this.handler(event, stream, context);
      if (!pending || typeof pending.then !== 'function') {
        throw new Error('Streaming does not support non-async handlers.');
      }
      await pending;
      if (!stream.writableEnded) throw new Error('Response stream is not finished.');
      if (!stream.writableFinished) await new Promise((resolve) => stream.once('finish', resolve));
    } catch (err) {
      logError('Invoke Error', err);
      this.send(() => this.api.postError(id, err));
      return;
    }
    const body = Buffer.concat(chunks);
    this.send(() => this.api.postResponse(id, body, contentType));
  }
}

async function main() {
  patchConsole();
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    process.stderr.write('sluice-runtime: AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(1);
  }
  let api;
  try {
    api = new RuntimeApi(address);
  } catch (e) {
    process.stderr.write(`sluice-runtime: ${e.message}\n`);
    process.exit(1);
  }
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const handlerName = process.env._HANDLER || process.argv[2] || '';

  // Until the handler is loaded, failures are init errors; afterwards they belong to the
  // invocation in progress (Runtime replaces these callbacks).
  let runtime = null;
  const onUncaught = (error) => reportAndExit(() => api.postInitError(error), 129);
  const onUnhandledRejection = (error) => reportAndExit(() => api.postInitError(error), 128);
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    (runtime ? runtime.onUncaught : onUncaught)(error);
  });
  process.on('unhandledRejection', (reason) => {
    const error = new UnhandledPromiseRejection(reason);
    logError('Unhandled Promise Rejection', error);
    (runtime ? runtime.onUnhandledRejection : onUnhandledRejection)(error);
  });
  process.on('beforeExit', () => {
    const action = beforeExitAction;
    beforeExitAction = null;
    if (action) action();
  });

  let handler;
  try {
    handler = await loadHandler(appRoot, handlerName);
  } catch (error) {
    logError('Uncaught Exception', error);
    reportAndExit(() => api.postInitError(error), 129);
    return;
  }
  runtime = new Runtime(api, handler);
  runtime.scheduleNext();
}

await main();
