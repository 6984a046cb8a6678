// The `athena` module for JavaScript programs: the same operations as in Python,
// each returning a Promise. Loaded with `node --import` before the program, it
// sets `globalThis.athena`; frames go over the bridge socket on file descriptor 3.
// A failed operation rejects with the class of the host's error (`athena.errors`,
// generated from the classes the host sends); a misspelt operation throws a
// TypeError that lists the valid names.
import net from "node:net";

const names = JSON.parse(process.env.ATHENA_OPERATIONS || "[]");
// Operations the policy refuses: callable, so that the host refuses them by name and
// permission (PermissionDeniedError, as in Python), but never listed.
const refused = JSON.parse(process.env.ATHENA_REFUSED || "[]");
const errorSpecs = JSON.parse(process.env.ATHENA_ERRORS || "[]");
// What the host accepts in one call frame (frames.py), and the key of the note sent in
// place of a value that cannot travel (the host refuses it as InvalidArgumentError).
const limits = { max_call_bytes: 1 << 20, max_values: 100000, max_depth: 100,
                 unsendable: "__athena_unsendable__",
                 ...JSON.parse(process.env.ATHENA_LIMITS || "{}") };
delete process.env.ATHENA_OPERATIONS;
delete process.env.ATHENA_REFUSED;
delete process.env.ATHENA_ERRORS;
delete process.env.ATHENA_LIMITS;

class AthenaError extends Error {
  get name() { return this.constructor.name; }
  get type() { return this.constructor.name; }
}

const errors = { AthenaError };
function subclass(name, parent) {
  return { [name]: class extends parent {} }[name];
}
for (const spec of errorSpecs) {  // parents first; JavaScript keeps the first Athena base
  if (spec.name === "AthenaError" || !/^[A-Za-z_]\w*$/.test(spec.name)) continue;
  const parent = spec.bases.map((base) => errors[base]).find(Boolean) ?? AthenaError;
  errors[spec.name] = subclass(spec.name, parent);
}

function hostError(type, message) {
  if (type === "TypeError") return new TypeError(message);
  if (!Object.hasOwn(errors, type)) {  // not in the hierarchy: still its own name
    if (!/^[A-Za-z_]\w*$/.test(type)) return new AthenaError(message);
    errors[type] = subclass(type, AthenaError);
  }
  return new errors[type](message);
}

function distance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

// Properties JavaScript itself looks up on any object (await, JSON, inspection).
const PROBES = new Set(["then", "toJSON", "inspect", "constructor", "prototype", "$$typeof",
                        "nodeType", "asymmetricMatch"]);

function guarded(target, path, valid) {
  return new Proxy(target, {
    get(object, property, receiver) {
      if (typeof property !== "string" || property in object || PROBES.has(property)) {
        return Reflect.get(object, property, receiver);
      }
      const byDistance = [...valid].sort((a, b) => distance(property, a) - distance(property, b));
      const close = byDistance.filter((n) => distance(property, n) <= Math.max(1, n.length / 3));
      const guess = close.length ? ` Did you mean ${close.slice(0, 3).map((n) => `'${n}'`).join(" or ")}?` : "";
      const listed = [...close.slice(0, 3), ...valid.filter((n) => !close.slice(0, 3).includes(n))];
      throw new TypeError(`${path} has no operation '${property}'.${guess} `
                          + `Valid names: ${listed.join(", ") || "(none)"}.`);
    },
  });
}

let socket = null;
let buffer = Buffer.alloc(0);
let nextId = 0;
const pending = new Map();

function channel() {
  if (socket === null) {
    socket = new net.Socket({ fd: 3, readable: true, writable: true });
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4) {
        const length = buffer.readUInt32BE(0);
        if (buffer.length < 4 + length) break;
        const reply = JSON.parse(buffer.subarray(4, 4 + length).toString("utf8"));
        buffer = buffer.subarray(4 + length);
        const waiter = pending.get(reply.id);
        pending.delete(reply.id);
        if (pending.size === 0) socket.unref();
        if (!waiter) continue;
        if (reply.ok) waiter.resolve(reply.value);
        else waiter.reject(hostError(reply.error?.type ?? "AthenaError", reply.error?.message ?? ""));
      }
    });
  }
  return socket;
}

// Deepest nesting sent (the frame adds its own levels around an argument), and most
// values (containers and members) one frame may hold, with room for the frame's own.
const MAX_DEPTH = limits.max_depth - 8;
const MAX_VALUES = limits.max_values - 64;

function unsendable(why) {
  return { [limits.unsendable]: why };
}

// `value` as JSON data, with its count of values: Dates as ISO strings, and each part
// that has no JSON form (or would nest too deeply) as a note saying why - as the
// Python module does, so that the host refuses it as it refuses such a value from the
// host API (InvalidArgumentError), never as a broken frame.
function plain(value, depth = 0) {
  if (value === null || typeof value === "string" || typeof value === "boolean") {
    return [value, 1];
  }
  if (typeof value === "number") {
    return [Number.isFinite(value) ? value : unsendable(`the number ${value}`), 1];
  }
  if (typeof value === "bigint") return [unsendable("a BigInt"), 1];
  if (value instanceof Date) {
    return [Number.isNaN(value.getTime()) ? unsendable("an invalid Date") : value.toISOString(), 1];
  }
  const isArray = Array.isArray(value);
  const isRecord = !isArray && typeof value === "object"
    && [Object.prototype, null].includes(Object.getPrototypeOf(value));
  if (!isArray && !isRecord) {
    const kind = value?.constructor?.name ?? typeof value;
    return [unsendable(`a value of type ${kind}`), 1];
  }
  if (depth >= MAX_DEPTH) return [unsendable(`nested more than ${MAX_DEPTH} levels deep`), 1];
  let count = 1;
  if (isArray) {
    const items = value.map((item) => {
      const [converted, n] = plain(item === undefined ? null : item, depth + 1);
      count += n;
      return converted;
    });
    return [items, count];
  }
  const entries = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;  // as JSON.stringify leaves it out
    const [converted, n] = plain(item, depth + 1);
    entries[key] = converted;
    count += n;
  }
  return [entries, count];
}

// The call frame's body. While it holds more than the host accepts, the largest
// argument goes as a note that it was too large.
function frameBody(id, op, args, kwargs) {
  const values = new Map();
  args.forEach((value, index) => values.set(index, plain(value)));
  for (const [key, value] of Object.entries(kwargs)) {
    if (value !== undefined) values.set(key, plain(value));
  }
  for (;;) {
    const frame = { type: "call", id, op, args: [], kwargs: {} };
    let total = 0;
    for (const [key, [value, count]] of values) {
      if (typeof key === "number") frame.args.push(value);
      else frame.kwargs[key] = value;
      total += count;
    }
    const body = Buffer.from(JSON.stringify(frame), "utf8");
    const tooMany = total > MAX_VALUES;
    if (!tooMany && body.length <= limits.max_call_bytes) return body;
    let largest = null;
    let size = -1;
    for (const [key, [value, count]] of values) {
      if (value !== null && typeof value === "object" && limits.unsendable in value) continue;
      const weight = tooMany ? count : Buffer.byteLength(JSON.stringify(value), "utf8");
      if (weight > size) [largest, size] = [key, weight];
    }
    if (largest === null) return body;  // the host refuses it as it stands
    const why = tooMany ? `more than ${MAX_VALUES.toLocaleString("en")} values`
      : `more than the ${limits.max_call_bytes.toLocaleString("en")} bytes of a call`;
    values.set(largest, [unsendable(`too large to send: ${why}`), 1]);
  }
}

function call(op, args) {
  const kwargs = args.length && args[args.length - 1] !== null && typeof args[args.length - 1] === "object"
    && !Array.isArray(args[args.length - 1]) && !(args[args.length - 1] instanceof Date)
    ? args.pop() : {};
  const id = ++nextId;
  const body = frameBody(id, op, args, kwargs);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  const sock = channel();
  sock.ref();
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    sock.write(Buffer.concat([header, body]));
  });
}

const athena = { AthenaError, errors, operations: [...names].sort() };
const groups = [];
for (const name of [...names, ...refused]) {
  const path = name.split(".");
  let owner = athena;
  path.slice(0, -1).forEach((part, depth) => {
    if (!Object.hasOwn(owner, part)) {
      owner[part] = {};
      groups.push([owner, part, ["athena", ...path.slice(0, depth + 1)].join(".")]);
    }
    owner = owner[part];
  });
  // The last argument, if a plain object, holds the keyword arguments: recall("q", {k: 5}).
  owner[path[path.length - 1]] = (...args) => call(name, args);
}
for (const [owner, part, path] of groups.reverse()) {
  const listed = Object.keys(owner[part]).filter(
    (key) => !refused.includes(`${path.slice("athena.".length)}.${key}`));
  owner[part] = guarded(owner[part], path, listed.sort());
}
globalThis.athena = guarded(athena, "athena", [...names].sort());
