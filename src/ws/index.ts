/**
 * weir/ws: WebSockets. `app.ws()` lives on the App (weir's core); this entry has the rooms helper, the
 * `weir:ws` diagnostics channel and the types. Importing it loads neither `ws` nor `ioredis`.
 */
export type { WsOrigins, WsRouteOptions } from '../http/ws-route.ts';
export { type Hub, type RoomsOptions, rooms } from './rooms.ts';
export { wsChannel } from './socket.ts';
export type { WsCloseReason, WsData, WsHandler, WsMessage, WsSocket } from './types.ts';
