/*
 * nwfh-attack: the attack guest's sender and the victim's counter, one static binary.
 *
 *   nwfh-attack send IFACE --run N --ip A.B.C.D --victim-ip A.B.C.D --forge MAC
 *                          [--interval-ms 20] --plan PHASE:MS[,PHASE:MS...]
 *   nwfh-attack count IFACE --run N
 *
 * The sender writes raw Ethernet frames on an AF_PACKET socket, so it can forge what a guest
 * kernel would never send: another source MAC, an ARP sender MAC or IP that is not its own.
 * Every frame carries a tag (magic, run, phase, kind, sequence number): in the payload of an
 * experimental ethertype, and in the padding after the 28-byte ARP body, which ebtables does
 * not look at. The counter, on the victim's side of the bridge, prints one line per tagged
 * frame of its run with the kernel's receive time, so that the test counts per phase and kind
 * and computes leak windows from sequence numbers and the host's clock, not the guest's.
 *
 * Phases (PHASE in --plan): own, mac, arp-mac, arp-ip, control, continuous. One tick every
 * --interval-ms; each tick sends the frames of its phase with the tick's sequence number:
 *   own, control  E(own)  A(own)
 *   mac           E(mac)  A(mac)           Ethernet source forged
 *   arp-mac       A(arp-mac)               own Ethernet source, ARP sender MAC forged
 *   arp-ip        A(arp-ip)                own MACs, ARP sender IP = the victim's
 *   continuous    all six of the above     (for paths where the filter arrives later)
 * E is the experimental ethertype 0x88b5, A a gratuitous ARP request (no one replies).
 * After the plan, three frames of phase "done".
 *
 * The counter prints "ready" once it listens, then "PHASE KIND FORMAT SEQ SEC.NSEC" lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_P_NWFH 0x88b5 /* IEEE 802 local experimental ethertype 1 */
#define MAGIC "NWFH"
#define TAG_LEN 15
#define FRAME_LEN 60 /* the Ethernet minimum without FCS: room for the tag after an ARP body */

enum kind { K_OWN, K_MAC, K_ARP_MAC, K_ARP_IP, K_COUNT };
static const char *const KINDS[K_COUNT] = {"own", "mac", "arp-mac", "arp-ip"};
enum phase { P_OWN, P_MAC, P_ARP_MAC, P_ARP_IP, P_CONTROL, P_CONTINUOUS, P_DONE, P_COUNT };
static const char *const PHASES[P_COUNT] = {"own", "mac", "arp-mac", "arp-ip", "control", "continuous", "done"};

static _Noreturn void die(const char *what) {
	fprintf(stderr, "nwfh-attack: %s: %s\n", what, strerror(errno));
	exit(1);
}

static _Noreturn void usage(const char *why) {
	fprintf(stderr, "nwfh-attack: %s\nusage: nwfh-attack send IFACE --run N --ip IP --victim-ip IP --forge MAC "
			"[--interval-ms MS] --plan PHASE:MS[,...]\n       nwfh-attack count IFACE --run N\n",
		why);
	exit(2);
}

static int parse_mac(const char *s, uint8_t mac[6]) {
	unsigned b[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) return -1;
	for (int i = 0; i < 6; i++) mac[i] = (uint8_t)b[i];
	return 0;
}

static int lookup(const char *const *names, int n, const char *name, size_t len) {
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0) return i;
	return -1;
}

static int open_socket(const char *iface, int *ifindex) {
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0) die("socket(AF_PACKET)");
	*ifindex = (int)if_nametoindex(iface);
	if (*ifindex == 0) die(iface);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = *ifindex};
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) die("bind");
	return fd;
}

/* --- sender ---------------------------------------------------------------------------- */

struct sender {
	int fd, ifindex;
	uint32_t run;
	uint8_t own[6], forged[6];
	struct in_addr ip, victim;
};

static void put32(uint8_t *p, uint32_t v) {
	v = htonl(v);
	memcpy(p, &v, 4);
}

static void tag(uint8_t *p, uint32_t run, int phase, int kind, uint32_t seq) {
	memcpy(p, MAGIC, 4);
	p[4] = 1; /* tag version */
	put32(p + 5, run);
	p[9] = (uint8_t)phase;
	p[10] = (uint8_t)kind;
	put32(p + 11, seq);
}

static void emit(const struct sender *s, const uint8_t *frame) {
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = s->ifindex, .sll_halen = 6};
	memset(to.sll_addr, 0xff, 6);
	/* A full transmit queue (a link that just came up) loses a frame, never the run. */
	if (sendto(s->fd, frame, FRAME_LEN, 0, (struct sockaddr *)&to, sizeof to) < 0 && errno != ENOBUFS && errno != EAGAIN)
		die("sendto");
}

/* An experimental-ethertype frame, broadcast, from `src`. */
static void send_e(const struct sender *s, const uint8_t src[6], int phase, int kind, uint32_t seq) {
	uint8_t f[FRAME_LEN] = {0};
	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETH_P_NWFH >> 8;
	f[13] = ETH_P_NWFH & 0xff;
	tag(f + 14, s->run, phase, kind, seq);
	emit(s, f);
}

/* A gratuitous ARP request, broadcast: Ethernet source `src`, sender `sha`/`spa`, tag in the padding. */
static void send_a(const struct sender *s, const uint8_t src[6], const uint8_t sha[6], struct in_addr spa, int phase, int kind,
		   uint32_t seq) {
	uint8_t f[FRAME_LEN] = {0};
	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08, f[13] = 0x06;
	uint8_t *a = f + 14;
	a[0] = 0, a[1] = 1;       /* hardware type Ethernet */
	a[2] = 0x08, a[3] = 0x00; /* protocol IPv4 */
	a[4] = 6, a[5] = 4;
	a[6] = 0, a[7] = 1; /* request */
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &spa, 4);
	/* target MAC zero, target IP = sender IP: an announcement, which nobody answers */
	memcpy(a + 24, &spa, 4);
	tag(a + 28, s->run, phase, kind, seq);
	emit(s, f);
}

static void tick(const struct sender *s, int phase, uint32_t seq) {
	int all = phase == P_CONTINUOUS;
	if (all || phase == P_OWN || phase == P_CONTROL || phase == P_DONE) {
		send_e(s, s->own, phase, K_OWN, seq);
		send_a(s, s->own, s->own, s->ip, phase, K_OWN, seq);
	}
	if (all || phase == P_MAC) {
		send_e(s, s->forged, phase, K_MAC, seq);
		send_a(s, s->forged, s->own, s->ip, phase, K_MAC, seq);
	}
	if (all || phase == P_ARP_MAC) send_a(s, s->own, s->forged, s->ip, phase, K_ARP_MAC, seq);
	if (all || phase == P_ARP_IP) send_a(s, s->own, s->own, s->victim, phase, K_ARP_IP, seq);
}

/*
 * One tick's sleep, relative: after a save and restore or a migration the guest's clock may
 * have jumped, and a sleep to an absolute time could then last far longer than a tick.
 */
static void sleep_tick(long interval_ms) {
	struct timespec d = {.tv_sec = interval_ms / 1000, .tv_nsec = (interval_ms % 1000) * 1000000L};
	while (nanosleep(&d, &d) < 0 && errno == EINTR) {
	}
}

static int do_send(const char *iface, int argc, char **argv) {
	struct sender s = {0};
	const char *plan = NULL;
	long interval = 20;
	int have_run = 0, have_ip = 0, have_victim = 0, have_forge = 0;
	for (int i = 0; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--run")) s.run = (uint32_t)strtoul(v, NULL, 10), have_run = 1;
		else if (!strcmp(k, "--ip")) have_ip = inet_pton(AF_INET, v, &s.ip) == 1;
		else if (!strcmp(k, "--victim-ip")) have_victim = inet_pton(AF_INET, v, &s.victim) == 1;
		else if (!strcmp(k, "--forge")) have_forge = parse_mac(v, s.forged) == 0;
		else if (!strcmp(k, "--interval-ms")) interval = strtol(v, NULL, 10);
		else if (!strcmp(k, "--plan")) plan = v;
		else usage(k);
	}
	if (!have_run || !have_ip || !have_victim || !have_forge || !plan || interval <= 0) usage("missing or bad option");

	s.fd = open_socket(iface, &s.ifindex);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface);
	if (ioctl(s.fd, SIOCGIFHWADDR, &ifr) < 0) die("SIOCGIFHWADDR");
	memcpy(s.own, ifr.ifr_hwaddr.sa_data, 6);

	uint32_t seq = 0;
	for (const char *p = plan; *p;) {
		const char *colon = strchr(p, ':');
		if (!colon) usage("plan: expected PHASE:MS");
		int phase = lookup(PHASES, P_DONE, p, (size_t)(colon - p));
		if (phase < 0) usage("plan: unknown phase");
		char *end;
		long ms = strtol(colon + 1, &end, 10);
		if (ms <= 0 || (*end != ',' && *end != '\0')) usage("plan: bad duration");
		printf("nwfh-attack: phase %s from seq %u for %ld ms\n", PHASES[phase], seq, ms);
		fflush(stdout);
		/* Ticks, not the guest's clock: a guest paused by save or migration resumes its count. */
		for (long t = 0; t < ms / interval; t++, seq++) {
			tick(&s, phase, seq);
			/* A sign of life on the console every 5 s, for a run that goes wrong. */
			if (t > 0 && t % (5000 / interval) == 0) {
				printf("nwfh-attack: seq %u\n", seq);
				fflush(stdout);
			}
			sleep_tick(interval);
		}
		p = *end ? end + 1 : end;
	}
	for (int i = 0; i < 3; i++, seq++) {
		tick(&s, P_DONE, seq);
		sleep_tick(interval);
	}
	printf("nwfh-attack: done after %u ticks\n", seq);
	return 0;
}

/* --- counter --------------------------------------------------------------------------- */

static uint32_t get32(const uint8_t *p) {
	uint32_t v;
	memcpy(&v, p, 4);
	return ntohl(v);
}

static _Noreturn void do_count(const char *iface, int argc, char **argv) {
	uint32_t run = 0;
	int have_run = 0;
	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--run")) run = (uint32_t)strtoul(argv[i + 1], NULL, 10), have_run = 1;
		else usage(argv[i]);
	}
	if (!have_run) usage("missing --run");
	int ifindex;
	int fd = open_socket(iface, &ifindex);
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) die("SO_TIMESTAMPNS");
	int rcvbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");

	uint8_t buf[2048];
	char control[256];
	for (;;) {
		struct sockaddr_ll from;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
		struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = control, .msg_controllen = sizeof control};
		ssize_t n = recvmsg(fd, &msg, 0);
		if (n < 0) {
			if (errno == EINTR) continue;
			die("recvmsg");
		}
		if (from.sll_pkttype == PACKET_OUTGOING || n < 14) continue;
		uint16_t type = (uint16_t)(buf[12] << 8 | buf[13]);
		const uint8_t *t;
		char format;
		if (type == ETH_P_NWFH) t = buf + 14, format = 'E';
		else if (type == 0x0806) t = buf + 14 + 28, format = 'A';
		else continue;
		if (n < t - buf + TAG_LEN || memcmp(t, MAGIC, 4) != 0 || t[4] != 1 || get32(t + 5) != run) continue;
		if (t[9] >= P_COUNT || t[10] >= K_COUNT) continue;
		struct timespec ts = {0};
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) memcpy(&ts, CMSG_DATA(c), sizeof ts);
		if (ts.tv_sec == 0) clock_gettime(CLOCK_REALTIME, &ts);
		printf("%s %s %c %u %lld.%09ld\n", PHASES[t[9]], KINDS[t[10]], format, get32(t + 11), (long long)ts.tv_sec,
		       ts.tv_nsec);
	}
}

int main(int argc, char **argv) {
	if (argc < 3) usage("expected a mode and an interface");
	if (!strcmp(argv[1], "send")) return do_send(argv[2], argc - 3, argv + 3);
	if (!strcmp(argv[1], "count")) do_count(argv[2], argc - 3, argv + 3);
	usage("unknown mode");
}
