// Just enough of the DNS wire format (RFC 1035) for the lab's stand-in for CoreDNS: one
// question in, an authoritative answer out. A records for the names it holds; other types
// of a known name get an empty NOERROR answer (so glibc stops there); unknown names NXDOMAIN.

const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;
const TTL_SECONDS = 5;

export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** Offset just past the question: where the answer section starts. */
  readonly end: number;
}

/** The first question of a message, or undefined when it is not one we can read. */
export function readQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg[at];
    if (len === 0) break;
    if (len > 63 || at + 1 + len > msg.length) return undefined; // no compression in a question we accept
    labels.push(msg.toString("latin1", at + 1, at + 1 + len));
    at += 1 + len;
  }
  if (at + 5 > msg.length) return undefined;
  return {
    name: labels.join(".").toLowerCase(),
    type: msg.readUInt16BE(at + 1),
    class: msg.readUInt16BE(at + 3),
    end: at + 5,
  };
}

/** The response to a query, or undefined for a datagram that is not a query. */
export function dnsAnswer(query: Buffer, records: ReadonlyMap<string, string>): Buffer | undefined {
  if (query.length < 12 || (query[2] & 0x80) !== 0) return undefined;
  const q = readQuestion(query);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, AA, the client's RD; RA off: it is authoritative for its zone and nothing else.
  const flags = 0x8400 | (query.readUInt16BE(2) & 0x0100);
  if (!q) {
    header.writeUInt16BE(flags | RCODE_FORMERR, 2);
    return header;
  }
  const ip = records.get(q.name);
  const answers = ip !== undefined && q.type === TYPE_A && q.class === CLASS_IN ? [ip] : [];
  header.writeUInt16BE(flags | (ip === undefined ? RCODE_NXDOMAIN : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const question = query.subarray(12, q.end);
  const rrs = answers.map((address) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(TTL_SECONDS, 6);
    rr.writeUInt16BE(4, 10);
    for (const [i, octet] of address.split(".").entries()) rr.writeUInt8(Number(octet), 12 + i);
    return rr;
  });
  return Buffer.concat([header, question, ...rrs]);
}

/** A standard query (RD set) for `name`: what a stub resolver sends; for the tests. */
export function dnsQuery(id: number, name: string, type = TYPE_A): Buffer {
  const labels = name
    .split(".")
    .filter(Boolean)
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "latin1")]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(type, 1);
  tail.writeUInt16BE(CLASS_IN, 3);
  return Buffer.concat([header, ...labels, tail]);
}
