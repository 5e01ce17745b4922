/**
 * The Lua script `weir bench` gives wrk (`wrk -s`), so that wrk, too, records latency per status.
 *
 * wrk's own latency histogram mixes every status, and its Lua `response(status)` callback does not say
 * which request it answers. But with one connection per wrk thread (`-t N -c N`), a thread's `request()`
 * and `response()` strictly alternate: wrk calls `request()` right before it writes a request and
 * `response()` right after it parsed the answer, so the time between them, read from CLOCK_MONOTONIC
 * through LuaJIT's FFI, is that request's latency (wrk's own `c->start`/`now` bracket it by a few µs).
 * A request cut by a socket error gets no `response()`; the next `request()` starts the clock again.
 *
 * Per thread the script keeps:
 *   buckets[second][status][bucket] = count   second of the run the response completed in, bucket as in
 *                                             histogram.ts's bucketOf() (the same rule, written in Lua)
 *   stats[status] = { n, sum, min, max }      exact, in µs
 * `done()` (in wrk's main Lua state) reads each thread's data with `thread:get("weir_dump")`, merges the
 * threads and prints, after wrk's own summary:
 *   weir-bench b <second> <status> <bucket> <count>
 *   weir-bench s <status> <n> <sum> <min> <max>
 *   weir-bench t <requests> <duration µs> <connect> <read> <write> <timeout>
 */

/** A Lua string literal of `bytes`, every byte outside a safe set as a 3-digit decimal escape. */
function luaString(bytes: Buffer): string {
  let out = '"';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9 _.,:;/=+-]/.test(c) ? c : `\\${String(b).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** The script for one request shape: method, headers (Latin-1, checked by options.ts) and body (UTF-8). */
export function wrkScript(request: {
  method: string;
  headers: readonly [string, string][];
  body?: string;
}): string {
  const headers = request.headers
    .map(([name, value]) => {
      // wrk adds Host itself unless the table has exactly "Host".
      const key = name.toLowerCase() === 'host' ? 'Host' : name;
      return `wrk.headers[${luaString(Buffer.from(key, 'latin1'))}] = ${luaString(Buffer.from(value, 'latin1'))}`;
    })
    .join('\n');
  const body = request.body === undefined ? 'nil' : luaString(Buffer.from(request.body, 'utf8'));
  return `-- weir bench: latency per status and per second (see src/bench/wrk-script.ts)
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } weir_timespec;
int clock_gettime(int clk_id, weir_timespec *tp);
]]
local ts = ffi.new("weir_timespec")
local CLOCK_MONOTONIC = 1
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

wrk.method = ${luaString(Buffer.from(request.method, 'latin1'))}
wrk.body = ${body}
${headers}

-- histogram.ts bucketOf(): exact below 128 us, then 64 buckets per power of two.
local MAX_US = 2147483647
local function bucket(v)
  if v < 0 then v = 0 end
  if v > MAX_US then v = MAX_US end
  if v < 128 then return v end
  local m, p = 7, 256
  while p <= v do m = m + 1; p = p * 2 end
  local shift = m - 6
  return 128 + (shift - 1) * 64 + (math.floor(v / 2 ^ shift) - 64)
end

local req
local started = 0
local t0 = 0
local buckets = {}
local stats = {}

function init(args)
  req = wrk.format()
  t0 = now_us()
end

function request()
  started = now_us()
  return req
end

function response(status)
  local t = now_us()
  local us = t - started
  local second = math.floor((t - t0) / 1000000)
  local bySecond = buckets[second]
  if bySecond == nil then bySecond = {}; buckets[second] = bySecond end
  local byStatus = bySecond[status]
  if byStatus == nil then byStatus = {}; bySecond[status] = byStatus end
  local b = bucket(us)
  byStatus[b] = (byStatus[b] or 0) + 1
  local s = stats[status]
  if s == nil then stats[status] = { 1, us, us, us }
  else
    s[1] = s[1] + 1; s[2] = s[2] + us
    if us < s[3] then s[3] = us end
    if us > s[4] then s[4] = us end
  end
end

-- wrk 4.1's thread:get() copies nested tables wrongly (its copy pops the Lua stack once too often), so a
-- thread hands its data over as one string, built when done() asks for the global "weir_dump".
local function dump()
  local out = {}
  for second, bySecond in pairs(buckets) do
    for status, byStatus in pairs(bySecond) do
      for b, n in pairs(byStatus) do out[#out + 1] = string.format("b %d %d %d %d", second, status, b, n) end
    end
  end
  for status, s in pairs(stats) do
    out[#out + 1] = string.format("s %d %d %.0f %d %d", status, s[1], s[2], s[3], s[4])
  end
  return table.concat(out, "\\n")
end
setmetatable(_G, { __index = function(_, key) if key == "weir_dump" then return dump() end end })

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary)
  local all, allStats = {}, {}
  for _, thread in ipairs(threads) do
    for line in string.gmatch(thread:get("weir_dump"), "[^\\n]+") do
      if string.sub(line, 1, 1) == "b" then
        local key, n = string.match(line, "^b (%d+ %d+ %d+) (%d+)$")
        all[key] = (all[key] or 0) + tonumber(n)
      else
        local status, n, sum, min, max = string.match(line, "^s (%d+) (%d+) (%d+) (%d+) (%d+)$")
        local a = allStats[status]
        n, sum, min, max = tonumber(n), tonumber(sum), tonumber(min), tonumber(max)
        if a == nil then allStats[status] = { n, sum, min, max }
        else
          a[1] = a[1] + n; a[2] = a[2] + sum
          if min < a[3] then a[3] = min end
          if max > a[4] then a[4] = max end
        end
      end
    end
  end
  local out = {}
  for key, n in pairs(all) do out[#out + 1] = string.format("weir-bench b %s %d", key, n) end
  for status, a in pairs(allStats) do
    out[#out + 1] = string.format("weir-bench s %s %d %.0f %d %d", status, a[1], a[2], a[3], a[4])
  end
  local e = summary.errors
  out[#out + 1] = string.format("weir-bench t %d %d %d %d %d %d", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.timeout)
  io.write(table.concat(out, "\\n"), "\\n")
end
`;
}
