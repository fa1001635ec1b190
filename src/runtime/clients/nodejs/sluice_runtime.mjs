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
import http from 'node:http';
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
// Runtime API client: one keep-alive connection, no timeouts (/next is a long poll).

class RuntimeApi {
  constructor(address) {
    const at = address.lastIndexOf(':');
    this.host = address.slice(0, at).replace(/^\[|\]$/g, '');
    this.port = Number.parseInt(address.slice(at + 1), 10);
    if (at <= 0 || !Number.isInteger(this.port)) {
      throw new Error(`AWS_LAMBDA_RUNTIME_API must be host:port, got '${address}'`);
    }
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  // Resolves to { status, headers, body: Buffer }. A reused keep-alive socket that the server
  // closed while idle is retried once on a new one.
  request(method, urlPath, body, headers, retry = true) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.host, port: this.port, method, path: urlPath, headers, agent: this.agent },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (e) => {
        if (retry && req.reusedSocket && e.code === 'ECONNRESET') {
          this.request(method, urlPath, body, headers, false).then(resolve, reject);
        } else {
          reject(e);
        }
      });
      req.end(body);
    });
  }

  async nextInvocation() {
    const res = await this.request('GET', `${API_PREFIX}/invocation/next`);
    if (res.status !== 200) {
      const text = res.body.toString('utf8', 0, 200);
      throw new Error(`/invocation/next answered ${res.status}: ${text}`);
    }
    return { headers: res.headers, body: res.body.toString('utf8') };
  }

  // `payload` is a string (sent as UTF-8) or a Buffer.
  async post(urlPath, payload, extraHeaders) {
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
    const headers = Object.assign(
      { 'Content-Type': 'application/json', 'Content-Length': body.length },
      extraHeaders,
    );
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
