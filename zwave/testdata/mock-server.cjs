// Runs zwave-js's mock serial controller (MockController + MockNodes from
// @zwave-js/testing, the same pieces as zwave-js/bin/mock-server.cjs) on a
// TCP port, with the nodes of a config file in mock-server.cjs's format.
//
// Usage: node mock-server.cjs PORT CONFIG.cjs
//
// Why not bin/mock-server.cjs itself: it hands each TCP read to the mock
// controller as one serial frame, and TCP joins writes (an ACK and the next
// request arrive as one chunk), which crashes it ("does not start with
// SOF"). This runner splits the byte stream into Serial API frames first.
const net = require("node:net");
const path = require("node:path");
const { createAndOpenMockedZWaveSerialPort } = require("@zwave-js/serial/mock");
const { Faucet, ZWaveSerialFrameType } = require("@zwave-js/serial");
const { MockController, MockNode } = require("@zwave-js/testing");
const { createDefaultMockControllerBehaviors, createDefaultMockNodeBehaviors } = require("zwave-js/Testing");

const [portArg, configArg] = process.argv.slice(2);
let config = require(path.resolve(configArg)).default;
if (typeof config === "function") config = config({ require });

// frames splits a Serial API byte stream: ACK, NAK and CAN are one byte,
// a data frame is SOF, length, then length bytes.
function frameSplitter(onFrame) {
	let buf = Buffer.alloc(0);
	return (chunk) => {
		buf = Buffer.concat([buf, chunk]);
		while (buf.length > 0) {
			const b = buf[0];
			if (b === 0x06 || b === 0x15 || b === 0x18) {
				onFrame(buf.subarray(0, 1));
				buf = buf.subarray(1);
			} else if (b === 0x01) {
				if (buf.length < 2 || buf.length < buf[1] + 2) return;
				const n = buf[1] + 2;
				onFrame(buf.subarray(0, n));
				buf = buf.subarray(n);
			} else {
				buf = buf.subarray(1); // garbage: skip, as a controller does
			}
		}
	};
}

(async () => {
	const { serial, port: mockPort } = await createAndOpenMockedZWaveSerialPort();
	const controller = await MockController.create({ homeId: 0x7e570001, ownNodeId: 1, ...(config.controller ?? {}), mockPort, serial });
	controller.defineBehavior(...createDefaultMockControllerBehaviors());
	const nodes = [];
	for (const n of config.nodes ?? []) {
		const node = await MockNode.create({ ...n, controller });
		controller.addNode(node);
		node.defineBehavior(...createDefaultMockNodeBehaviors());
		if (n.behaviors) node.defineBehavior(...n.behaviors);
		nodes.push(node);
	}
	config.onInit?.(controller, nodes);

	const faucet = new Faucet(serial.readable);
	const server = net.createServer((socket) => {
		const writable = new WritableStream({
			write(chunk) {
				if (chunk.type !== ZWaveSerialFrameType.SerialAPI) return;
				socket.write(typeof chunk.data === "number" ? Uint8Array.from([chunk.data]) : chunk.data);
			},
		});
		faucet.connect(writable);
		socket.on("close", () => {
			faucet.disconnect();
			void writable.close().catch(() => {});
		});
		socket.on("error", () => {});
		const split = frameSplitter((frame) => {
			serial.writeAsync(Uint8Array.from(frame)).catch((e) => console.error("serial write", e));
		});
		socket.on("data", split);
	});
	server.maxConnections = 1;
	server.listen(Number(portArg), "127.0.0.1", () => console.log(`mock serial listening on tcp://127.0.0.1:${portArg}`));
})().catch((e) => {
	console.error(e);
	process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
