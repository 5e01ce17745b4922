/**
 * The dashboard page's own script and stylesheet, served as files of their own (so the page needs no
 * inline script or style and runs under a strict Content-Security-Policy). The script draws one uPlot
 * chart per card from the samples of the page's EventSource: the `history` event first (the samples kept,
 * which it draws at once), then a `sample` event per interval. Every text from the server (source names)
 * goes into the page as text, never as markup. It reconnects by itself, and marks the time it was away as
 * a gap in every chart.
 */

// Kept free of backticks, dollar-brace and backslashes: it is the text of a template literal.
export const DASHBOARD_SCRIPT = `'use strict';
(() => {
  const root = document.getElementById('dashboard');
  const statusEl = document.getElementById('status');
  const metaEl = document.getElementById('meta');
  const eventsUrl = root.getAttribute('data-events');
  const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#64748b'];
  const MIB = 1048576;
  const HEIGHT = 150;

  // Each chart's series, as [label, value, unit] read from one sample: none when the app has nothing of
  // that kind (then its none text says why).
  const SPECS = [
    {
      title: 'Throughput',
      series: (s) => [
        ['ok', s.requestsPerSecond - s.serverErrorsPerSecond, '/s'],
        ['5xx', s.serverErrorsPerSecond, '/s'],
      ],
    },
    {
      title: 'Latency',
      series: (s) => [
        ['p50', s.p50Ms, 'ms'],
        ['p99', s.p99Ms, 'ms'],
      ],
    },
    {
      title: 'In flight and the limiter',
      none: 'The overload limiter is off.',
      series: (s) =>
        s.limiter === null
          ? []
          : [
              ['in flight', s.limiter.inFlight, ''],
              ['limit', s.limiter.limit, ''],
              ['queued', s.limiter.queued, ''],
            ],
    },
    {
      title: 'Shed',
      none: 'The overload limiter is off.',
      series: (s) => (s.limiter === null ? [] : [['shed', s.limiter.shedPerSecond, '/s']]),
    },
    {
      title: 'Database pools',
      none: 'No database was given to the dashboard.',
      series: (s) =>
        Object.entries(s.databases).flatMap(([name, p]) => [
          [name + ' in use', p.inUse, ''],
          [name + ' open', p.open, ''],
          [name + ' waiting', p.waiting, ''],
        ]),
    },
    {
      title: 'Cache hit ratio',
      none: 'No cache was given to the dashboard.',
      series: (s) =>
        Object.entries(s.caches).map(([name, c]) => [
          c.degraded ? name + ' (degraded)' : name,
          c.hitRatio === null ? null : c.hitRatio * 100,
          '%',
        ]),
    },
    {
      title: 'Queue depths',
      none: 'No queue that counts its jobs was given to the dashboard.',
      series: (s) =>
        Object.entries(s.queues).flatMap(([name, q]) => [
          [name + ' waiting', q.waiting || 0, ''],
          [name + ' active', q.active || 0, ''],
        ]),
    },
    {
      title: 'Event loop',
      series: (s) => [
        ['busy', s.eventLoop.utilization * 100, '%'],
        ['lag p99', s.eventLoop.lagMs, 'ms'],
      ],
    },
    {
      title: 'Memory',
      series: (s) => [
        ['RSS', s.memory.rssBytes / MIB, 'MiB'],
        ['heap used', s.memory.heapUsedBytes / MIB, 'MiB'],
      ],
    },
  ];

  let intervalMs = 1000;
  let maxPoints = 120;
  /** The samples shown, oldest first; s: null marks a gap (no one watched, or the stream was down). */
  let points = [];

  function format(value, unit) {
    if (value === null || value === undefined || Number.isNaN(value)) return '–';
    const abs = Math.abs(value);
    const text = Number.isInteger(value)
      ? String(value)
      : abs >= 100
        ? value.toFixed(0)
        : abs >= 10
          ? value.toFixed(1)
          : value.toFixed(2);
    if (unit === '') return text;
    return unit === '%' || unit === '/s' ? text + unit : text + ' ' + unit;
  }

  function tick(value) {
    if (value >= 1e6) return (value / 1e6).toFixed(0) + 'M';
    if (value >= 1e4) return (value / 1e3).toFixed(0) + 'k';
    return String(Math.round(value * 100) / 100);
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
    });
  }

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  const AXIS = {
    stroke: '#6b7280',
    grid: { stroke: '#eef0f3', width: 1 },
    ticks: { stroke: '#eef0f3', width: 1, size: 4 },
    font: '11px system-ui, sans-serif',
  };

  class Card {
    constructor(spec) {
      this.spec = spec;
      this.labels = [];
      this.plot = null;
      const card = element('section', 'card');
      card.appendChild(element('h2', '', spec.title));
      this.values = card.appendChild(element('div', 'values'));
      this.body = card.appendChild(element('div', 'plot'));
      root.appendChild(card);
    }

    update() {
      const rows = points.map((p) => (p.s === null ? null : this.spec.series(p.s)));
      const labels = [];
      const units = new Map();
      for (const row of rows) {
        for (const [label, , unit] of row || []) {
          if (!units.has(label)) labels.push(label);
          units.set(label, unit);
        }
      }
      if (labels.length === 0) {
        this.showNone(points.length === 0 ? 'Waiting for data…' : this.spec.none || 'Nothing to show yet.');
        return;
      }
      const data = [points.map((p) => p.t / 1000)];
      for (const label of labels) {
        data.push(
          rows.map((row) => {
            const entry = row === null ? undefined : row.find((e) => e[0] === label);
            return entry === undefined ? null : entry[1];
          }),
        );
      }
      if (this.plot === null || JSON.stringify(this.labels) !== JSON.stringify(labels))
        this.build(labels, data);
      else this.plot.setData(data);
      this.showValues(labels, units, rows);
    }

    showNone(text) {
      if (this.plot !== null) this.plot.destroy();
      this.plot = null;
      this.labels = [];
      this.values.textContent = '';
      this.body.textContent = '';
      this.body.appendChild(element('div', 'none', text));
    }

    build(labels, data) {
      if (this.plot !== null) this.plot.destroy();
      this.body.textContent = '';
      this.labels = labels;
      const series = labels.map((label, i) => {
        const color = COLORS[i % COLORS.length];
        return {
          label,
          stroke: color,
          width: 1.5,
          fill: i === 0 ? color + '14' : undefined,
          points: { show: false },
        };
      });
      const options = {
        width: Math.max(200, this.body.clientWidth),
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
        axes: [
          Object.assign({}, AXIS, { space: 80, values: (_u, ticks) => ticks.map(clock) }),
          Object.assign({}, AXIS, { size: 46, values: (_u, ticks) => ticks.map(tick) }),
        ],
        series: [{}].concat(series),
      };
      this.plot = new uPlot(options, data, this.body);
    }

    showValues(labels, units, rows) {
      let last = null;
      for (let i = rows.length - 1; i >= 0 && last === null; i--) last = rows[i];
      this.values.textContent = '';
      labels.forEach((label, i) => {
        const entry = (last || []).find((e) => e[0] === label);
        const item = element('span', 'value');
        item.appendChild(element('i', 'swatch')).style.background = COLORS[i % COLORS.length];
        item.appendChild(document.createTextNode(label + ' '));
        item.appendChild(element('b', '', format(entry === undefined ? null : entry[1], units.get(label))));
        this.values.appendChild(item);
      });
    }

    resize() {
      if (this.plot !== null)
        this.plot.setSize({ width: Math.max(200, this.body.clientWidth), height: HEIGHT });
    }
  }

  const cards = SPECS.map((spec) => new Card(spec));
  const render = () => {
    for (const card of cards) card.update();
  };

  function add(sample) {
    const last = points[points.length - 1];
    // A gap: more than a few intervals, and more than a late timer in a busy process would explain.
    if (last !== undefined && sample.t - last.t > Math.max(3 * intervalMs, intervalMs + 5000)) {
      points.push({ t: last.t + intervalMs, s: null });
    }
    points.push({ t: sample.t, s: sample });
    if (points.length > maxPoints) points.splice(0, points.length - maxPoints);
  }

  function status(state, text) {
    statusEl.className = state;
    statusEl.textContent = text;
  }

  let retryMs = 1000;
  function connect() {
    status('connecting', 'connecting…');
    const source = new EventSource(eventsUrl);
    source.addEventListener('open', () => status('live', 'live'));
    source.addEventListener('history', (event) => {
      const history = JSON.parse(event.data);
      intervalMs = history.intervalMs;
      maxPoints = history.historySize;
      metaEl.textContent = 'process ' + history.pid + ' · a sample every ' + format(intervalMs / 1000, 's');
      points = [];
      history.samples.forEach(add);
      retryMs = 1000;
      render();
    });
    source.addEventListener('sample', (event) => {
      add(JSON.parse(event.data));
      render();
    });
    source.addEventListener('error', () => {
      // EventSource reconnects by itself after a dropped connection, but not after an error status (401,
      // or 503 while too many pages watch): then the page tries again, less often each time.
      if (source.readyState !== EventSource.CLOSED) {
        status('connecting', 'reconnecting…');
        return;
      }
      source.close();
      status('down', 'disconnected: retrying in ' + Math.round(retryMs / 1000) + ' s');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    });
  }

  window.addEventListener('resize', () => {
    for (const card of cards) card.resize();
  });
  render();
  connect();
})();
`;

export const DASHBOARD_STYLE = `:root {
  color-scheme: light;
  --bg: #f5f6f8;
  --card: #fff;
  --text: #111827;
  --muted: #6b7280;
  --line: #e5e7eb;
}
* {
  box-sizing: border-box;
}
body {
  margin: 0;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg);
  color: var(--text);
}
header {
  display: flex;
  align-items: baseline;
  gap: 16px;
  padding: 14px 24px;
  background: var(--card);
  border-bottom: 1px solid var(--line);
}
h1 {
  margin: 0;
  font-size: 16px;
  font-weight: 600;
}
#status {
  display: inline-flex;
  align-items: center;
  gap: 6px;
  font-size: 13px;
  color: var(--muted);
}
#status::before {
  content: "";
  width: 8px;
  height: 8px;
  border-radius: 50%;
  background: #9ca3af;
}
#status.live::before {
  background: #16a34a;
}
#status.down::before {
  background: #dc2626;
}
#meta {
  margin-left: auto;
  font-size: 13px;
  color: var(--muted);
}
main {
  display: grid;
  grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
  gap: 16px;
  padding: 20px 24px;
}
.card {
  min-width: 0;
  padding: 12px 14px 6px;
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 8px;
}
h2 {
  margin: 0;
  font-size: 13px;
  font-weight: 600;
}
.values {
  display: flex;
  flex-wrap: wrap;
  gap: 2px 14px;
  min-height: 20px;
  margin: 4px 0 6px;
  font-size: 12px;
  color: var(--muted);
  font-variant-numeric: tabular-nums;
}
.values b {
  font-weight: 600;
  color: var(--text);
}
.swatch {
  display: inline-block;
  width: 8px;
  height: 8px;
  margin-right: 5px;
  border-radius: 2px;
}
.plot {
  min-height: 150px;
}
.none {
  display: flex;
  align-items: center;
  justify-content: center;
  height: 150px;
  font-size: 13px;
  color: var(--muted);
  border: 1px dashed var(--line);
  border-radius: 6px;
}
`;
