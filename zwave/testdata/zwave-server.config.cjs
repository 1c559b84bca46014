// @zwave-js/server driver options for the tests: throwaway keys and a
// cache directory given by the test (ZWAVE_CACHE_DIR).
module.exports = {
	securityKeys: {
		S0_Legacy: "0102030405060708090a0b0c0d0e0f10",
		S2_Unauthenticated: "1112131415161718191a1b1c1d1e1f20",
		S2_Authenticated: "2122232425262728292a2b2c2d2e2f30",
		S2_AccessControl: "3132333435363738393a3b3c3d3e3f40",
	},
	storage: { cacheDir: process.env.ZWAVE_CACHE_DIR || "/tmp/zwave-cache" },
	logConfig: { enabled: false, level: "error" },
	emitValueUpdateAfterSetValue: true,
	// Generous serial timeouts: CI machines are shared, and a starved Node
	// process must not make the driver give up on the mock controller.
	timeouts: { ack: 5000, response: 30000, report: 10000, serialAPIStarted: 20000 },
};
