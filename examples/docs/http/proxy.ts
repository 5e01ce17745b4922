import { App } from 'weir';

// nginx on the same host, and the load balancers of the private network, talk to the app.
export const app = new App({ trustProxy: ['127.0.0.1/32', '::1', '10.0.0.0/8'] });
app.get('/whoami', (ctx) => ({ ip: ctx.ip, protocol: ctx.protocol }));
