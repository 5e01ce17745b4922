// The page /static/ws.html: sends what is typed to the service's WebSocket echo (/ws), lists the answers.
const status = document.querySelector('#status');
const log = document.querySelector('#log');
const input = document.querySelector('#message');
const socket = new WebSocket(new URL('/ws', location.href).href.replace(/^http/, 'ws'));

socket.addEventListener('open', () => {
  status.textContent = 'connected';
});
socket.addEventListener('close', (event) => {
  status.textContent = `closed (${event.code})`;
});
socket.addEventListener('message', (event) => {
  const item = document.createElement('li');
  // textContent, never innerHTML: the echo is whatever was sent.
  item.textContent = event.data;
  log.append(item);
});
document.querySelector('#send').addEventListener('submit', (event) => {
  event.preventDefault();
  if (socket.readyState === WebSocket.OPEN) socket.send(input.value);
  input.value = '';
});
