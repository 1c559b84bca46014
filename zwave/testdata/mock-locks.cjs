// Mock Z-Wave network for the zwave package's tests, loaded by zwave-js's
// own mock serial controller (node_modules/zwave-js/bin/mock-server.cjs
// --config this-file). It defines three keypad locks with the command
// classes DOOR OS uses (User Code, Door Lock, Notification, Battery) and,
// where zwave-js's mock lacks a behaviour the tests need, defines it here:
//
//   - Battery: answers Battery Get with the level the control port set.
//   - A keypad: POST /keypad {"node":2,"code":"1234"} on the control port
//     (ZWAVE_MOCK_CONTROL_PORT) makes the node check the code against its
//     own User Code slots; a match unlocks and sends the Access Control
//     notification "Keypad unlock operation" with the slot as user id; a
//     miss sends nothing and answers {"unlocked":false} (many real locks
//     stay silent on a wrong code).
//   - POST /manual {"node":2,"unlock":true}: the thumb turn (Access
//     Control events 1/2).
//   - POST /battery {"node":2,"level":12}: sets the level and reports it.
//   - POST /unreachable {"node":2,"on":true}: the node stops acknowledging
//     frames (out of range); false brings it back.
//   - POST /code {"node":2,"slot":1,"code":"4321"}: a code programmed at
//     the lock itself (an installer's), not through the gateway.
//   - GET /slots?node=2: the node's slots as the lock itself holds them.
//   - POST /reset {"node":2}: empties every slot, makes it reachable and
//     its battery 90%
//     (between tests sharing one mock network).
//   - POST /wake {"node":4}: the sleeping lock wakes up (its wake-up timer
//     or a button) and sends Wake Up Notification; it answers until the
//     gateway sends Wake Up No More Information, then sleeps again.
//   - POST /sleep {"node":4}: its wake period ends: it goes back to sleep
//     (no ACK, no answer) as it would when its own timer runs out.
//   - GET /awake?node=4: {"awake":bool} as the node itself sees it.
//
// Node 2: a listening lock with 10 slots. Node 3: a lock with 2 slots
// (the "full lock" test). Node 4: a sleeping lock with 10 slots
// (isListening false, not FLiRS, Wake Up CC): zwave-js's mock has no Wake
// Up behaviour, so `sleeper` below is the node's side of it. While it
// sleeps it neither acknowledges nor answers frames; the gateway
// (zwave-js's driver) then takes it for asleep ("It is probably asleep,
// moving its messages to the wakeup queue", Driver.js) and holds its
// commands until a Wake Up Notification (/wake). The node also sleeps on
// Wake Up No More Information, should the driver send it.
const http = require("node:http");

exports.default = function ({ require }) {
	const { CommandClasses } = require("@zwave-js/core");
	const cc = require("@zwave-js/cc");
	const { createMockZWaveRequestFrame } = require("@zwave-js/testing");

	const batteryLevel = new Map(); // node id -> level

	const respondToBatteryGet = {
		handleCC(controller, self, receivedCC) {
			if (receivedCC instanceof cc.BatteryCCGet) {
				return {
					action: "sendCC",
					cc: new cc.BatteryCCReport({ nodeId: controller.ownNodeId, level: batteryLevel.get(self.id) ?? 90 }),
				};
			}
		},
	};

	// The node's side of Wake Up CC: interval get/set, and sleep after No
	// More Information (no ACK, no answer) until woken on the control port.
	const asleep = new Map(); // node id -> true while sleeping
	const wakeUpInterval = new Map();
	const sleeper = {
		handleCC(controller, self, receivedCC) {
			if (asleep.get(self.id)) return { action: "stop" };
			if (receivedCC instanceof cc.WakeUpCCNoMoreInformation) {
				asleep.set(self.id, true);
				self.autoAckControllerFrames = false;
				return { action: "stop" };
			}
			if (receivedCC instanceof cc.WakeUpCCIntervalSet) {
				wakeUpInterval.set(self.id, receivedCC.wakeUpInterval);
				return { action: "stop" };
			}
			if (receivedCC instanceof cc.WakeUpCCIntervalGet) {
				return {
					action: "sendCC",
					cc: new cc.WakeUpCCIntervalReport({
						nodeId: controller.ownNodeId,
						wakeUpInterval: wakeUpInterval.get(self.id) ?? 3600,
						controllerNodeId: controller.ownNodeId,
					}),
				};
			}
		},
	};

	const lock = (id, numUsers, sleeps = false) => ({
		id,
		capabilities: {
			isListening: !sleeps,
			isFrequentListening: false,
			// A fingerprint no device file of zwave-js's config database
			// matches (a real one brings that device's quirks along).
			manufacturerId: 0x7e57,
			productType: 0x0001,
			productId: 0x0001,
			commandClasses: [
				CommandClasses.Version,
				CommandClasses["Manufacturer Specific"],
				{ ccId: CommandClasses["User Code"], version: 1, numUsers },
				{ ccId: CommandClasses["Door Lock"], version: 2 },
				{
					ccId: CommandClasses.Notification,
					version: 8,
					supportsV1Alarm: false,
					notificationTypesAndEvents: { 6: [1, 2, 3, 4, 5, 6] },
				},
				{ ccId: CommandClasses.Battery, version: 1 },
				...(sleeps ? [{ ccId: CommandClasses["Wake Up"], version: 1 }] : []),
			],
		},
		behaviors: sleeps ? [sleeper, respondToBatteryGet] : [respondToBatteryGet],
	});

	return {
		nodes: [lock(2, 10), lock(3, 2), lock(4, 10, true)],
		onInit(controller, nodes) {
			const byId = new Map(nodes.map((n) => [n.id, n]));
			const notify = (node, event, userId) =>
				node.sendToController(
					createMockZWaveRequestFrame(
						new cc.NotificationCCReport({
							nodeId: node.id,
							notificationType: 6,
							notificationEvent: event,
							eventParameters: userId ? Uint8Array.from([userId]) : undefined,
						}),
						{ ackRequested: false },
					),
				);
			const slots = (node) => {
				const n = node.getCCCapabilities(CommandClasses["User Code"], 0)?.numUsers ?? 1;
				const out = [];
				for (let i = 1; i <= n; i++) {
					const code = node.state.get(`UserCode_userCode_${i}`);
					out.push({
						slot: i,
						status: node.state.get(`UserCode_userIdStatus_${i}`) ?? 0,
						code: code == undefined ? "" : typeof code === "string" ? code : Buffer.from(code).toString("latin1"),
					});
				}
				return out;
			};
			const server = http.createServer(async (req, res) => {
				const url = new URL(req.url, "http://x");
				let body = "";
				for await (const c of req) body += c;
				let input = {};
				try {
					input = (body && JSON.parse(body)) || {};
				} catch {
					res.writeHead(400);
					return res.end("bad json");
				}
				const node = byId.get(Number(input.node ?? url.searchParams.get("node")));
				const reply = (status, v) => {
					res.writeHead(status, { "content-type": "application/json" });
					res.end(JSON.stringify(v));
				};
				if (!node) return reply(404, { error: "no such node" });
				try {
					switch (url.pathname) {
						case "/slots":
							return reply(200, slots(node));
						case "/keypad": {
							const hit = slots(node).find((s) => s.status === 1 && s.code === String(input.code));
							if (!hit) return reply(200, { unlocked: false });
							await notify(node, 6, hit.slot);
							return reply(200, { unlocked: true, slot: hit.slot });
						}
						case "/manual":
							await notify(node, input.unlock ? 2 : 1, 0);
							return reply(200, {});
						case "/battery":
							batteryLevel.set(node.id, input.level);
							await node.sendToController(
								createMockZWaveRequestFrame(new cc.BatteryCCReport({ nodeId: node.id, level: input.level }), {
									ackRequested: false,
								}),
							);
							return reply(200, {});
						case "/reset":
							for (const sl of slots(node)) {
								node.state.delete(`UserCode_userIdStatus_${sl.slot}`);
								node.state.delete(`UserCode_userCode_${sl.slot}`);
							}
							node.autoAckControllerFrames = !asleep.get(node.id);
							batteryLevel.delete(node.id);
							// Report it, so the gateway's cache forgets a level an
							// earlier test set.
							await node.sendToController(
								createMockZWaveRequestFrame(new cc.BatteryCCReport({ nodeId: node.id, level: 90 }), { ackRequested: false }),
							);
							return reply(200, {});
						case "/wake":
							asleep.delete(node.id);
							node.autoAckControllerFrames = true;
							await node.sendToController(
								createMockZWaveRequestFrame(new cc.WakeUpCCWakeUpNotification({ nodeId: node.id }), {
									ackRequested: false,
								}),
							);
							return reply(200, {});
						case "/sleep":
							asleep.set(node.id, true);
							node.autoAckControllerFrames = false;
							return reply(200, {});
						case "/awake":
							return reply(200, { awake: !asleep.get(node.id) });
						case "/code":
							// A code programmed at the lock itself (an installer's).
							node.state.set(`UserCode_userIdStatus_${input.slot}`, 1);
							node.state.set(`UserCode_userCode_${input.slot}`, String(input.code));
							return reply(200, {});
						case "/unreachable":
							node.autoAckControllerFrames = !input.on;
							return reply(200, {});
					}
					reply(404, { error: "unknown path" });
				} catch (e) {
					reply(500, { error: String(e) });
				}
			});
			server.listen(Number(process.env.ZWAVE_MOCK_CONTROL_PORT || 5556), "127.0.0.1", () =>
				console.log("mock control listening"),
			);
		},
	};
};
