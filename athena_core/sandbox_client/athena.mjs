// The `athena` module for JavaScript programs: the same operations as in Python,
// each returning a Promise. Loaded with `node --import` before the program, it
// sets `globalThis.athena`; frames go over the bridge socket on file descriptor 3.
import net from "node:net";

const names = JSON.parse(process.env.ATHENA_OPERATIONS || "[]");
delete process.env.ATHENA_OPERATIONS;

class AthenaError extends Error {
  constructor(type, message) {
    super(`${type}: ${message}`);
    this.type = type;
  }
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
        else waiter.reject(new AthenaError(reply.error?.type ?? "Error", reply.error?.message ?? ""));
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

const athena = { AthenaError, operations: [...names].sort() };
for (const name of names) {
  const path = name.split(".");
  let owner = athena;
  for (const part of path.slice(0, -1)) owner = owner[part] ??= {};
  // The last argument, if a plain object, holds the keyword arguments: recall("q", {k: 5}).
  owner[path[path.length - 1]] = (...args) => call(name, args);
}
globalThis.athena = athena;
