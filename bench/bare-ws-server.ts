import { WebSocketServer } from 'ws';

/** The baseline for memory: a bare `ws` server that accepts sockets and does nothing else. */
const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
server.on('listening', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "object" && address ? address.port : address}\n`);
});
server.on('connection', (socket) => socket.on('message', () => undefined));
