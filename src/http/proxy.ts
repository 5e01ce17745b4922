/**
 * Which proxies to believe, and what they say about the client: `X-Forwarded-For` and `X-Forwarded-Proto`.
 *
 * Inputs: the socket's peer address, the two headers (client-controlled from the left, appended to by each
 * proxy on the right), and the app's `trustProxy` setting. Output: the client address and protocol.
 * Guarantee: an entry is believed only when every hop between it and weir is trusted. The walk starts at
 * the peer and moves leftwards through `X-Forwarded-For`; it stops at the first address that is not trusted
 * (that one is the client) or at an entry that is not an IP address (then the last address read is the
 * client: what lies further left was written by someone untrusted). Addresses are matched with Node's own
 * `net.BlockList`, which understands CIDR ranges in both families and IPv4-mapped IPv6 addresses.
 */
import { BlockList, isIP } from 'node:net';
import { invalidOption } from '../errors.ts';

/**
 * Which proxies in front of the app to believe: a number of hops (`1`: the peer is a proxy, believe the
 * last `X-Forwarded-For` entry it wrote), or the addresses and CIDR ranges of the proxies
 * (`['127.0.0.1/32', '::1', '10.0.0.0/8']`). `false` or `0`: believe no header.
 */
export type TrustProxy = boolean | number | readonly string[];

/** A compiled {@link TrustProxy}: whether the hop-th address from weir (0: the peer) is a trusted proxy. */
export type TrustFn = (address: string, hop: number) => boolean;

/** Compiles the `trustProxy` option. @throws WEIR_ERR_INVALID_OPTION for a malformed one. */
export function compileTrustProxy(option: TrustProxy | undefined): TrustFn | undefined {
  if (option === undefined || option === false || option === 0) return undefined;
  if (option === true) {
    throw invalidOption(
      'trustProxy',
      'a hop count or a list of proxy addresses/CIDR ranges (true would believe any client)',
      option,
    );
  }
  if (typeof option === 'number') {
    if (!Number.isSafeInteger(option) || option < 0) {
      throw invalidOption('trustProxy', 'a non-negative integer (hops) or a list of addresses', option);
    }
    return (_address, hop) => hop < option;
  }
  if (!Array.isArray(option)) {
    throw invalidOption('trustProxy', 'a hop count or a list of addresses and CIDR ranges', option);
  }
  const list = new BlockList();
  for (const entry of option) {
    const [address, bits, ...rest] = typeof entry === 'string' ? entry.trim().split('/') : [];
    const family = address === undefined ? 0 : isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (
      family === 0 ||
      rest.length > 0 ||
      (bits !== undefined && !/^\d{1,3}$/.test(bits)) ||
      !(prefix >= 0 && prefix <= max)
    ) {
      throw invalidOption(
        'trustProxy entry',
        'an IPv4 or IPv6 address, optionally with a /prefix length',
        entry,
      );
    }
    list.addSubnet(address as string, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** The address in one `X-Forwarded-For` entry (bare, `[v6]:port` or `v4:port`), or `undefined`. */
function entryAddress(raw: string): string | undefined {
  const entry = raw.trim();
  if (isIP(entry) !== 0) return entry;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5}))$/.exec(entry);
  if (match === null || Number(match[2] ?? match[4]) > 65_535) return undefined;
  const address = (match[1] ?? match[3]) as string;
  return isIP(address) === (match[1] === undefined ? 4 : 6) ? address : undefined;
}

/** The client as the trusted proxies report it: its address and how many trusted hops were walked. */
export interface ForwardedClient {
  readonly ip: string;
  /** Trusted proxies between the client and weir (0: the peer itself is not trusted). */
  readonly proxies: number;
}

/** Walks `X-Forwarded-For` from the right past the trusted hops (see the header of this file). */
export function forwardedClient(
  peer: string,
  forwardedFor: string | string[] | undefined,
  trust: TrustFn,
): ForwardedClient {
  if (peer === '' || !trust(peer, 0)) return { ip: peer, proxies: 0 };
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  let ip = peer;
  let proxies = 1;
  // From the right, one entry at a time: a long forged prefix on the left is never split or read.
  let end = header.length;
  while (end > 0) {
    const start = header.lastIndexOf(',', end - 1);
    const address = entryAddress(header.slice(start + 1, end));
    if (address === undefined) break;
    ip = address;
    if (!trust(address, proxies)) break;
    proxies++;
    end = start < 0 ? 0 : start;
  }
  return { ip, proxies };
}

/**
 * The protocol the client used: `X-Forwarded-Proto` as written by the outermost trusted proxy, when the
 * peer is trusted and the value is `http` or `https`; otherwise the connection's own.
 */
export function forwardedProtocol(
  own: 'http' | 'https',
  forwardedProto: string | string[] | undefined,
  proxies: number,
): 'http' | 'https' {
  if (proxies === 0 || forwardedProto === undefined) return own;
  const entries = (Array.isArray(forwardedProto) ? forwardedProto.join(',') : forwardedProto).split(',');
  // A proxy that appends leaves one entry per hop; one that overwrites leaves one entry in all.
  const value = entries[Math.max(0, entries.length - proxies)]?.trim().toLowerCase();
  return value === 'https' || value === 'http' ? value : own;
}
