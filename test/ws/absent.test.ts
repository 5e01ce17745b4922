import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordImports } from '../helpers/process.ts';

describe('WebSockets: no cost when unused', { timeout: 60_000 }, () => {
  it('an app with no WebSocket route (even one importing weir/ws) never loads ws nor ioredis; the first accepted socket loads ws', async () => {
    const lines = await recordImports(new URL('../fixtures/no-ws-app.ts', import.meta.url), 's');
    const marks = lines.filter(
      (l) => l === 'served' || l === 'called' || l === 'import ws' || l === 'import ioredis',
    );
    assert.deepEqual(marks, ['served', 'import ws', 'import ws', 'called'], lines.join('\n'));
  });
});
