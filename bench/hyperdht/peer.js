// hyperdht as a yardstick for NatPunch's goodput (bench/lab-pipe-vs-iperf.sh). Three roles, each a process:
//   node peer.js bootstrap HOST PORT [MORE]  a 3-node DHT testnet on HOST (the lab's server), first node on PORT;
//                                            with MORE (comma-separated addresses) one more node bound to each of
//                                            them instead, so that peers hear from nodes on several addresses
//   node peer.js serve HOST:PORT SEED BYTES   listen with the key pair of SEED (64 hex); once BYTES arrived,
//                                            print {"bytes","seconds","mbit"} (first byte to last) and exit
//   node peer.js send HOST:PORT SEED BYTES    connect to the server of SEED (hole-punched as hyperdht does it), send BYTES, wait for the server to close
// The stream is hyperdht's: Noise, then libsodium secretstream over UDX, end to end encrypted like NatPunch's.
const DHT = require('hyperdht')
const createTestnet = require('hyperdht/testnet')

const [role, a, b, c] = process.argv.slice(2)

function keyPairOf (seedHex) {
  return DHT.keyPair(Buffer.from(seedHex, 'hex'))
}

function bootstrapOf (hostPort) {
  const [host, port] = hostPort.split(':')
  return [{ host, port: Number(port) }]
}

async function main () {
  if (role === 'bootstrap' && c) {
    const bootstrap = [{ host: a, port: Number(b) }]
    const first = new DHT({ ephemeral: false, firewalled: false, bootstrap: [], host: a, port: Number(b) })
    await first.fullyBootstrapped()
    for (const host of c.split(',')) {
      const node = new DHT({ ephemeral: false, firewalled: false, bootstrap, host, port: Number(b) })
      await node.fullyBootstrapped()
    }
    console.log(JSON.stringify({ bootstrap, nodes: [a, ...c.split(',')] }))
    return // the nodes keep the process alive
  }
  if (role === 'bootstrap') {
    const testnet = await createTestnet(3, { host: a, port: Number(b) })
    console.log(JSON.stringify({ bootstrap: testnet.bootstrap }))
    return // the nodes keep the process alive
  }
  const bytes = Number(c)
  // BIND=127.0.0.1 for a try on one machine (both peers on loopback); the lab binds to all addresses.
  // PUBLIC=1: the server is reachable from anywhere (loopback, the lab's open1), and says so. Left to
  // find that out for itself in a 3-node testnet, its UDX stream mostly timed out after the handshake.
  const node = new DHT({
    bootstrap: bootstrapOf(a),
    ...(process.env.BIND ? { host: process.env.BIND } : {}),
    ...(role === 'serve' && process.env.PUBLIC === '1' ? { firewalled: false, ephemeral: false } : {})
  })
  if (role === 'serve') {
    const server = node.createServer((socket) => {
      let received = 0
      let first = 0
      socket.on('data', (data) => {
        if (received === 0) first = process.hrtime.bigint()
        received += data.length
        if (received >= bytes) {
          const seconds = Number(process.hrtime.bigint() - first) / 1e9
          console.log(JSON.stringify({ bytes: received, seconds, mbit: received * 8 / seconds / 1e6 }))
          socket.end()
        }
      })
      socket.on('error', () => {})
      socket.on('close', async () => {
        await node.destroy()
        process.exit(received >= bytes ? 0 : 1)
      })
    })
    await server.listen(keyPairOf(b))
    console.error('listening')
    return
  }
  if (role === 'send') {
    const socket = node.connect(keyPairOf(b).publicKey)
    socket.on('error', (e) => { console.error(e.code, e.message); process.exit(1) })
    socket.on('open', () => {
      console.error('connected')
      const chunk = Buffer.alloc(64 * 1024, 7)
      let sent = 0
      const write = () => {
        while (sent < bytes) {
          const n = Math.min(chunk.length, bytes - sent)
          sent += n
          if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            socket.once('drain', write)
            return
          }
        }
        socket.end()
      }
      write()
    })
    socket.on('data', () => {})
    socket.on('close', async () => {
      await node.destroy()
      process.exit(0)
    })
    return
  }
  throw new Error(`unknown role ${role}`)
}

main().catch((e) => { console.error(e); process.exit(1) })
