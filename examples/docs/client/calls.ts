import { createClient } from 'weir/client';
import type { Api } from './api.ts';

export function inventory(baseUrl: string, token: () => string) {
  return createClient<Api>(baseUrl, {
    headers: () => ({ authorization: `Bearer ${token()}` }), // asked for at every call
    timeoutMs: 5_000,
  });
}

export async function restock(api: ReturnType<typeof inventory>, sku: string, more: number) {
  const found = await api.get('/api/items/:sku', { params: { sku } });
  if (found.status === 404) return undefined; // data: { error: string }, the route's own 404
  if (!found.ok) throw new Error(`inventory answered ${found.status} ${found.data.error.code}`);
  const { name, stock } = found.data; // narrowed to the 200 body
  const saved = await api.put('/api/items/:sku', { params: { sku }, body: { name, stock: stock + more } });
  return saved.ok ? saved.data : undefined;
}

export async function search(api: ReturnType<typeof inventory>, q: string, signal?: AbortSignal) {
  // limit is a string to the schema, whose input is what a caller sends; a number is sent as its text.
  const res = await api.get('/api/items', { query: { q, limit: 5 }, signal, timeoutMs: 1_000 });
  return res.ok ? res.data.map((item) => item.sku) : [];
}

export async function remove(api: ReturnType<typeof inventory>, sku: string) {
  const res = await api.delete('/api/items/:sku', { params: { sku } });
  // 204 (data: undefined), or an error status with weir's error body: 'ITEM_NOT_FOUND', or another code
  return res.status === 204 ? 'removed' : res.data.error.code;
}
