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
delete process.env.ATHENA_OPERATIONS;
delete process.env.ATHENA_REFUSED;
delete process.env.ATHENA_ERRORS;

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

function call(op, args) {
  const kwargs = args.length && args[args.length - 1] !== null && typeof args[args.length - 1] === "object"
    && !Array.isArray(args[args.length - 1]) ? args.pop() : {};
  const id = ++nextId;
  const body = Buffer.from(JSON.stringify({ type: "call", id, op, args, kwargs }), "utf8");
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
