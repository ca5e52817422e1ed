// Zone transfers on the control plane (AXFR RFC 5936, IXFR RFC 1995, SPEC D3): a worker relays a transfer query;
// the supervisor checks who asks against the zone's `transfer` rules and answers from the zone as every worker
// serves it (the same images) and, for IXFR, from the zone's journal in the store, falling back to the whole zone
// when the client's serial is not in it. Owns the choice between those answers; the messages are dns/transfer.ts's.
import type { Logger } from 'pino';
import { axfrMessages, errorTo, ixfrMessages, ixfrOverUdp, parseTransferQuery, soaOf, transferError, type IxfrStep, type TransferQuery } from '../dns/transfer.js';
import { mayTransfer } from '../dns/update-policy.js';
import { serialGreater } from '../dns/update.js';
import type { ZoneLayers } from '../dns/zone.js';
import { encodeName } from '../wire/name.js';
import { RCODE, TYPE } from '../wire/types.js';
import { encodeBody, type ZoneRecord } from '../wire/rdata.js';
import type { JournalEntry, StoredRecord } from '../state/store.js';
import type { StateStore } from '../state/async.js';
import type { ZoneRequest } from './ipc.js';
import type { ServedZone } from './zone-updates.js';

export interface ZoneTransferHost {
  store: StateStore | null;
  zone(origin: string): ServedZone | null;
  layers(index: number): ZoneLayers | undefined;
  /** The policy names placed in the zone, as plain A/AAAA records of their enabled members (what secondaries serve). */
  policyRecords(layers: ZoneLayers): ZoneRecord[];
  log: Logger;
}

function storedWire(r: StoredRecord): Buffer {
  return Buffer.concat([encodeName(r.name), encodeBody(r.type, r.ttl, Buffer.from(r.rdata, 'hex'))]);
}

/**
 * The journal's steps from serial `from` to serial `to`, each starting where the last ended; null when the journal
 * does not reach back to `from`, has a gap, or a step is not known record by record (a revision replaced the zone).
 */
export function journalSteps(journal: readonly JournalEntry[], from: number, to: number): IxfrStep[] | null {
  const start = journal.findIndex((e) => e.from === from);
  if (start < 0) return null;
  const steps: IxfrStep[] = [];
  let at = from;
  for (let i = start; i < journal.length && at !== to; i++) {
    const e = journal[i]!;
    if (e.from !== at || e.reset) return null;
    steps.push({ from: e.from, to: e.serial, removed: e.removed.map(storedWire), added: e.added.map(storedWire) });
    at = e.serial;
  }
  return at === to ? steps : null;
}

export class ZoneTransfers {
  constructor(private readonly host: ZoneTransferHost) {}

  /** Answer one relayed AXFR or IXFR (the messages, unsigned). Never throws: a failure is SERVFAIL, logged. */
  async handle(req: ZoneRequest): Promise<Buffer[]> {
    const msg = Buffer.from(req.message, 'base64');
    const q = parseTransferQuery(msg);
    if ('rcode' in q) return msg.length < 12 ? [] : [errorTo(msg, q.rcode)];
    try {
      return await this.answer(q, req);
    } catch (e) {
      this.host.log.error({ zone: q.zone, err: (e as Error).message }, 'zone transfer failed');
      return [transferError(q, RCODE.SERVFAIL)];
    }
  }

  private async answer(q: TransferQuery, req: ZoneRequest): Promise<Buffer[]> {
    const kind = q.type === TYPE.AXFR ? 'AXFR' : 'IXFR';
    const zone = this.host.zone(q.zone);
    if (zone === null) return [transferError(q, RCODE.NOTAUTH)];
    if (!mayTransfer(zone.config.transfer, { key: req.key, address: req.client })) {
      this.host.log.warn({ zone: zone.origin, key: req.key, client: req.client, kind }, `${kind} refused: no rule of zones[${zone.index}].transfer is for it`);
      return [transferError(q, RCODE.REFUSED)];
    }
    const layers = this.host.layers(zone.index);
    const soa = layers === undefined ? null : soaOf(layers);
    if (layers === undefined || soa === null) return [transferError(q, RCODE.SERVFAIL)];
    const serial = (soa.data as { serial: number }).serial;
    const whole = (): Buffer[] => (req.tcp ? axfrMessages(q, layers, this.host.policyRecords(layers)) : [ixfrMessages(q, soa, [])[0]!]);
    if (q.type === TYPE.AXFR) {
      const out = whole();
      this.host.log.info({ zone: zone.origin, serial, key: req.key, client: req.client, messages: out.length }, 'AXFR');
      return out;
    }
    // IXFR: nothing newer, the current SOA alone; a serial the journal reaches, the steps since; else the whole zone.
    if (!serialGreater(serial, q.serial!)) return [ixfrMessages(q, soa, [])[0]!];
    const steps = this.host.store === null ? null : journalSteps(await this.host.store.zoneJournal(zone.origin), q.serial!, serial);
    this.host.log.info({ zone: zone.origin, from: q.serial, serial, key: req.key, client: req.client, incremental: steps !== null }, 'IXFR');
    if (steps === null) return whole();
    const messages = ixfrMessages(q, soa, steps);
    return req.tcp ? messages : [ixfrOverUdp(q, soa, messages)];
  }
}
