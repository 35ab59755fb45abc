/* peregrine-cni: a CNI 1.0 plugin that attaches a container to a VDC the way
 * the lab attaches a VM (docs/cni.md).
 *
 * A container runtime runs the plugin (this binary, called peregrine-cni,
 * or `peregrine cni`) in the host's network namespace with CNI_COMMAND and
 * friends in the environment and the network configuration on stdin:
 *
 *   ADD    a veth pair: the host end (pgcXXXXXXXX) stays in the host, the
 *          other goes into the container's namespace as CNI_IFNAME with the
 *          workload's Peregrine MAC and its address; one workload file in
 *          the agent's workloads directory (agent/config.h); SIGHUP to the
 *          agent, which attaches the data plane to the port and registers
 *          the workload with the directory; ADD returns once the data plane
 *          is attached.
 *   DEL    the reverse; succeeds when there is nothing left to remove.
 *   CHECK  the attachment is still what ADD made (file, ports, address).
 *   VERSION
 *
 * The workload file is the plugin's only state: it names the node, port and
 * address ADD chose, and the agent reads it.  Every step of ADD is undone
 * when a later one fails, so a failed ADD leaves no veth, no file and no
 * address behind.  Addresses come from the configuration's `ip`, from
 * CNI_ARGS `IP=A.B.C.D/LEN`, or from an IPAM plugin (`ipam`, run as the
 * spec says: CNI_PATH, same environment and configuration).
 *
 * Errors are CNI errors on stdout ({cniVersion, code, msg, details}) with a
 * non-zero exit status; codes 1-11 are the spec's, 100 and up Peregrine's.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/config.h"
#include "bpf/loader.h"
#include "cmd/cli.h"
#include "lib/common.h"
#include "lib/hash.h"
#include "wire/pgr.h"

#define CNI_VERSION "1.0.0"

enum cni_code {
	CNI_ERR_VERSION = 1,		/* incompatible CNI version */
	CNI_ERR_FIELD = 2,		/* unsupported field in the configuration */
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_ENV = 4,		/* invalid necessary environment variables */
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,		/* failed to decode content */
	CNI_ERR_CONFIG = 7,		/* invalid network configuration */
	CNI_ERR_AGAIN = 11,		/* try again later */
	CNI_ERR_ATTACHED = 100,		/* ADD for an attachment that exists */
	CNI_ERR_AGENT = 101,		/* the agent did not take the port */
	CNI_ERR_CHECK = 102,		/* CHECK found a difference */
	CNI_ERR_IPAM = 103,		/* the IPAM plugin failed */
	CNI_ERR_ADDRESS = 104,		/* address or node in use, or none left */
};

enum cni_limits {
	CNI_STDIN_MAX = 1 << 20,	/* a network configuration: 1 MiB */
	CNI_ID_MAX = 128,		/* container IDs (64 hex digits in practice) */
	CNI_ATTACH_MS_DEFAULT = 3000,
	CNI_ATTACH_MS_MAX = 60000,
	CNI_CMD_OUT_MAX = 4096,
};

struct cni {
	const char *command, *cid, *netns, *ifname, *args, *path;
	json_t *conf;			/* the network configuration */
	const char *version, *name, *agent_config, *pidfile;
	uint32_t vdc, node_first, node_last, attach_ms;
	struct agent_config agent;	/* with its workloads merged */
	bool agent_loaded;
	char wfile[AGENT_PATH_MAX + 200], host_if[IFNAMSIZ], tmp_if[IFNAMSIZ];
	int lock_fd;
};

/* ---- errors ------------------------------------------------------------ */

static int cni_fail(const struct cni *c, int code, const char *details, const char *fmt, ...)
	PRINTF(4, 5);
static int cni_fail(const struct cni *c, int code, const char *details, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = json_pack("{s:s, s:i, s:s}", "cniVersion", c && c->version ? c->version : CNI_VERSION,
		      "code", code, "msg", msg);
	if (details && *details)
		JSET(e, "details", JSTR(details));
	json_dumpf(e, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(e);
	fprintf(stderr, "peregrine-cni: %s%s%s\n", msg, details && *details ? ": " : "",
		details ? details : "");
	return 1;
}

/* ---- running ip and the IPAM plugin -------------------------------------- */

/* Run argv with stdin from `in` (NULL: /dev/null), inside the network
 * namespace nsfd (-1: here), stdout into out and stderr into err (each
 * NUL-terminated, truncated at its size).  Returns the exit status, or -1. */
static int run(char *const argv[], int nsfd, const char *in, char *out, size_t outlen,
	       char *err, size_t errlen, char *const envp[])
{
	int pin[2], pout[2], perr[2], st;
	size_t no = 0, ne = 0;
	pid_t pid;

	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET)) {
			fprintf(stderr, "setns: %s\n", strerror(errno));
			_exit(127);
		}
		if (envp)
			execve(argv[0], argv, envp);
		else
			execvp(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (in) {	/* small inputs: the configuration */
		size_t len = strlen(in), off = 0;

		while (off < len) {
			ssize_t k = write(pin[1], in + off, len - off);

			if (k <= 0)
				break;
			off += (size_t)k;
		}
	}
	close(pin[1]);
	for (;;) {	/* drain both; stderr of ip is short */
		char junk[512];
		ssize_t k = read(pout[0], no + 1 < outlen ? out + no : junk,
				 no + 1 < outlen ? outlen - 1 - no : sizeof(junk));

		if (k <= 0)
			break;
		if (no + 1 < outlen)
			no += (size_t)k;
	}
	for (;;) {
		char junk[512];
		ssize_t k = read(perr[0], ne + 1 < errlen ? err + ne : junk,
				 ne + 1 < errlen ? errlen - 1 - ne : sizeof(junk));

		if (k <= 0)
			break;
		if (ne + 1 < errlen)
			ne += (size_t)k;
	}
	if (outlen)
		out[no] = 0;
	if (errlen)
		err[ne] = 0;
	while (ne && (err[ne - 1] == '\n'))
		err[--ne] = 0;
	close(pout[0]);
	close(perr[0]);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `ip ARGS...` here (nsfd -1) or in a namespace; 0, or -1 with its stderr. */
static int ip(int nsfd, char *err, size_t errlen, ...)
{
	char *argv[16] = { "ip" }, out[256];
	int n = 1;
	va_list ap;

	va_start(ap, errlen);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return run(argv, nsfd, NULL, out, sizeof(out), err, errlen, NULL) ? -1 : 0;
}

/* Run the IPAM plugin named by conf.ipam.type with CNI_COMMAND=cmd; its
 * stdout into out.  0, or a CNI error printed. */
static int ipam(const struct cni *c, const char *cmd, char *out, size_t outlen)
{
	json_t *ipam = json_object_get(c->conf, "ipam");
	const char *type = json_string_value(json_object_get(ipam, "type"));
	char exe[4096], err[1024], *conf, *argv[2], *envp[8], e[8][4200];
	const char *dirs = c->path;
	int st;

	if (!type || !*type || strchr(type, '/'))
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "ipam.type: missing or not a plugin name");
	exe[0] = 0;
	while (dirs && *dirs) {	/* the first CNI_PATH entry that has it */
		size_t n = strcspn(dirs, ":");

		snprintf(exe, sizeof(exe), "%.*s/%s", (int)n, dirs, type);
		if (!access(exe, X_OK))
			break;
		exe[0] = 0;
		dirs += n + (dirs[n] == ':');
	}
	if (!exe[0])
		return cni_fail(c, CNI_ERR_IPAM, c->path, "IPAM plugin '%s' not found in CNI_PATH",
				type);
	snprintf(e[0], sizeof(e[0]), "CNI_COMMAND=%s", cmd);
	snprintf(e[1], sizeof(e[1]), "CNI_CONTAINERID=%s", c->cid);
	snprintf(e[2], sizeof(e[2]), "CNI_NETNS=%s", c->netns ? c->netns : "");
	snprintf(e[3], sizeof(e[3]), "CNI_IFNAME=%s", c->ifname);
	snprintf(e[4], sizeof(e[4]), "CNI_ARGS=%s", c->args ? c->args : "");
	snprintf(e[5], sizeof(e[5]), "CNI_PATH=%s", c->path);
	snprintf(e[6], sizeof(e[6]), "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	for (int i = 0; i < 7; i++)
		envp[i] = e[i];
	envp[7] = NULL;
	argv[0] = exe;
	argv[1] = NULL;
	if (!(conf = json_dumps(c->conf, JSON_COMPACT)))
		return cni_fail(c, CNI_ERR_IO, NULL, "out of memory");
	st = run(argv, -1, conf, out, outlen, err, sizeof(err), envp);
	free(conf);
	if (st) {
		json_t *j = json_loads(out, 0, NULL);
		const char *m = json_string_value(json_object_get(j, "msg"));
		char msg[1100];

		snprintf(msg, sizeof(msg), "%s", m ? m : err);
		json_decref(j);
		return cni_fail(c, CNI_ERR_IPAM, msg, "IPAM plugin '%s' %s failed", type, cmd);
	}
	return 0;
}

/* ---- parsing ------------------------------------------------------------- */

/* Container IDs: alphanumerics, then also '_', '.', '-' (the spec's rule). */
static bool valid_cid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > CNI_ID_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) ||
		    !isprint((unsigned char)s[i]))
			return false;
	return true;
}

/* "A.B.C.D/LEN" */
static bool parse_cidr(const char *s, uint32_t *ip, uint32_t *plen)
{
	char host[INET_ADDRSTRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	struct in_addr a;
	char *end;
	long n;

	if (!slash || (size_t)(slash - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = 0;
	errno = 0;
	n = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, host, &a) != 1 || errno || *end || end == slash + 1 || n < 1 ||
	    n > 32)
		return false;
	*ip = ntohl(a.s_addr);
	*plen = (uint32_t)n;
	return *ip != 0 && *ip != 0xffffffffu;
}

static bool json_u32(json_t *o, const char *key, uint32_t lo, uint32_t hi, uint32_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*out = (uint32_t)json_integer_value(v);
	return true;
}

static const char *const conf_keys[] = {
	"cniVersion", "name", "type", "vdc", "agentConfig", "agentPidFile", "nodes", "ip",
	"ipam", "attachTimeoutMs",
	/* set by runtimes */
	"prevResult", "runtimeConfig", "args", "capabilities", "dns", NULL
};

static int parse(struct cni *c)
{
	static char buf[CNI_STDIN_MAX + 1];
	const char *key;
	json_error_t jerr;
	json_t *v, *nodes;
	size_t len = 0, n;

	c->command = getenv("CNI_COMMAND");
	if (!c->command || !*c->command)
		return cni_fail(c, CNI_ERR_ENV, NULL, "CNI_COMMAND is not set");
	if (!strcmp(c->command, "VERSION"))
		return 0;
	while (len < sizeof(buf) && (n = fread(buf + len, 1, sizeof(buf) - len, stdin)) > 0)
		len += n;
	if (len == sizeof(buf))
		return cni_fail(c, CNI_ERR_DECODE, NULL, "the configuration is larger than %d bytes",
				CNI_STDIN_MAX);
	buf[len] = 0;
	if (!(c->conf = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ||
	    !json_is_object(c->conf))
		return cni_fail(c, CNI_ERR_DECODE, c->conf ? NULL : jerr.text,
				"the configuration on stdin is not a JSON object");
	c->version = json_string_value(json_object_get(c->conf, "cniVersion"));
	if (!c->version)
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "cniVersion: missing");
	if (strcmp(c->version, CNI_VERSION)) {
		char d[128];

		snprintf(d, sizeof(d), "this plugin speaks %s", CNI_VERSION);
		c->version = CNI_VERSION;
		return cni_fail(c, CNI_ERR_VERSION, d, "incompatible CNI version %s",
				json_string_value(json_object_get(c->conf, "cniVersion")));
	}
	json_object_foreach(c->conf, key, v) {
		bool known = false;

		for (size_t i = 0; conf_keys[i]; i++)
			known |= !strcmp(key, conf_keys[i]);
		if (!known)
			return cni_fail(c, CNI_ERR_FIELD, NULL, "unknown field '%s'", key);
	}
	c->name = json_string_value(json_object_get(c->conf, "name"));
	c->agent_config = json_string_value(json_object_get(c->conf, "agentConfig"));
	c->pidfile = json_string_value(json_object_get(c->conf, "agentPidFile"));
	nodes = json_object_get(c->conf, "nodes");
	if (!c->name || !*c->name)
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "name: missing");
	if (!json_u32(c->conf, "vdc", 1, 0xffffff, &c->vdc))
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "vdc: expected an integer 1 to 16777215");
	if (!c->agent_config || !*c->agent_config)
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "agentConfig: missing (the agent's "
				"configuration file)");
	if (!c->pidfile || !*c->pidfile)
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "agentPidFile: missing");
	if (!json_is_array(nodes) || json_array_size(nodes) != 2 ||
	    !json_is_integer(json_array_get(nodes, 0)) ||
	    !json_is_integer(json_array_get(nodes, 1)) ||
	    json_integer_value(json_array_get(nodes, 0)) < 1 ||
	    json_integer_value(json_array_get(nodes, 1)) > PGR_NODE_MAX ||
	    json_integer_value(json_array_get(nodes, 0)) >
		    json_integer_value(json_array_get(nodes, 1)))
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "nodes: expected [FIRST, LAST], 1 <= "
				"FIRST <= LAST <= %d (Peregrine node numbers this host gives to "
				"workloads)", PGR_NODE_MAX);
	c->node_first = (uint32_t)json_integer_value(json_array_get(nodes, 0));
	c->node_last = (uint32_t)json_integer_value(json_array_get(nodes, 1));
	c->attach_ms = CNI_ATTACH_MS_DEFAULT;
	if (json_object_get(c->conf, "attachTimeoutMs") &&
	    !json_u32(c->conf, "attachTimeoutMs", 0, CNI_ATTACH_MS_MAX, &c->attach_ms))
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "attachTimeoutMs: expected 0 to %d",
				CNI_ATTACH_MS_MAX);
	if ((v = json_object_get(c->conf, "ip")) && !json_is_string(v))
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "ip: expected \"A.B.C.D/LEN\"");
	if (json_object_get(c->conf, "ip") && json_object_get(c->conf, "ipam"))
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "ip and ipam: give one, not both");

	c->cid = getenv("CNI_CONTAINERID");
	c->netns = getenv("CNI_NETNS");
	c->ifname = getenv("CNI_IFNAME");
	c->args = getenv("CNI_ARGS");
	c->path = getenv("CNI_PATH");
	if (!c->cid || !valid_cid(c->cid))
		return cni_fail(c, CNI_ERR_ENV, c->cid, "CNI_CONTAINERID: missing or not a "
				"container ID (letters, digits, _ . -; at most %d)", CNI_ID_MAX);
	if (!c->ifname || !valid_ifname(c->ifname))
		return cni_fail(c, CNI_ERR_ENV, c->ifname, "CNI_IFNAME: missing or not an "
				"interface name");
	if (strcmp(c->command, "DEL") && (!c->netns || !*c->netns))
		return cni_fail(c, CNI_ERR_ENV, NULL, "CNI_NETNS: missing");
	if (!c->path)
		c->path = "";
	return 0;
}

/* The address: conf.ip, CNI_ARGS IP=, or the IPAM plugin's first IPv4. */
static int address(struct cni *c, uint32_t *addr, uint32_t *plen, bool *from_ipam)
{
	const char *s = json_string_value(json_object_get(c->conf, "ip"));
	char argip[64] = "";

	*from_ipam = false;
	if (c->args) {	/* K=V;K=V */
		const char *p = strstr(c->args, "IP=");

		if (p && (p == c->args || p[-1] == ';')) {
			size_t n = strcspn(p + 3, ";");

			snprintf(argip, sizeof(argip), "%.*s", (int)MIN(n, sizeof(argip) - 1), p + 3);
		}
	}
	if (argip[0])
		s = argip;
	if (s) {
		if (!parse_cidr(s, addr, plen))
			return cni_fail(c, CNI_ERR_CONFIG, s, "ip: expected a host address "
					"\"A.B.C.D/LEN\"");
		return 0;
	}
	if (json_object_get(c->conf, "ipam")) {
		static char out[CNI_CMD_OUT_MAX * 4];
		json_t *r, *ips;
		bool found = false;

		if (ipam(c, "ADD", out, sizeof(out)))
			return 1;
		*from_ipam = true;
		r = json_loads(out, 0, NULL);
		ips = json_object_get(r, "ips");
		for (size_t i = 0; !found && i < json_array_size(ips); i++)
			found = parse_cidr(json_string_value(json_object_get(json_array_get(ips, i),
									     "address")), addr, plen);
		json_decref(r);
		if (!found) {
			char got[256];

			snprintf(got, sizeof(got), "%.255s", out);
			ipam(c, "DEL", out, sizeof(out));
			return cni_fail(c, CNI_ERR_IPAM, got, "the IPAM plugin gave no IPv4 address");
		}
		return 0;
	}
	return cni_fail(c, CNI_ERR_CONFIG, NULL, "no address: give ip, CNI_ARGS IP=A.B.C.D/LEN "
			"or ipam");
}

/* ---- state: the agent's configuration and our workload file --------------- */

static void names(struct cni *c)
{
	char key[CNI_ID_MAX + IFNAMSIZ + 2];
	uint64_t h;

	snprintf(key, sizeof(key), "%s/%s", c->cid, c->ifname);
	h = hash_bytes(key, strlen(key), 0x7065726567726e65ull);
	snprintf(c->host_if, sizeof(c->host_if), "pgc%08x", (unsigned)(h & 0xffffffffu));
	snprintf(c->tmp_if, sizeof(c->tmp_if), "pgt%08x", (unsigned)(h & 0xffffffffu));
}

/* mkdir -p */
static int mkdir_p(const char *path)
{
	char p[AGENT_PATH_MAX + 1];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

/* Load the agent's configuration (and so every workload), take the lock of
 * its workloads directory, and name our workload file.  0; 1 after printing
 * a CNI error; -1 (nothing printed) when quiet and the configuration cannot
 * be read. */
static int load_agent(struct cni *c, bool quiet)
{
	char err[700], lock[AGENT_PATH_MAX + 16];

	names(c);
	if (agent_config_load_file(&c->agent, c->agent_config, err, sizeof(err))) {
		if (quiet) {
			fprintf(stderr, "peregrine-cni: %s\n", err);
			return -1;
		}
		return cni_fail(c, CNI_ERR_CONFIG, err, "agentConfig: cannot read %s",
				c->agent_config);
	}
	c->agent_loaded = true;
	if (!c->agent.workloads[0])
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "agentConfig: %s has no workloads "
				"directory (docs/agent.md)", c->agent_config);
	if (mkdir_p(c->agent.workloads))
		return cni_fail(c, CNI_ERR_IO, strerror(errno), "cannot create %s",
				c->agent.workloads);
	snprintf(lock, sizeof(lock), "%s/.lock", c->agent.workloads);
	if ((c->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(c->lock_fd, LOCK_EX))
		return cni_fail(c, CNI_ERR_IO, strerror(errno), "cannot lock %s", lock);
	/* read again under the lock: another ADD may have written meanwhile */
	agent_config_free(&c->agent);
	if (agent_config_load_file(&c->agent, c->agent_config, err, sizeof(err)))
		return cni_fail(c, CNI_ERR_CONFIG, err, "agentConfig: cannot read %s",
				c->agent_config);
	snprintf(c->wfile, sizeof(c->wfile), "%s/%s.%s.yaml", c->agent.workloads, c->cid,
		 c->ifname);
	return 0;
}

/* Our workload, if its file exists (-1: none). */
static int our_workload(const struct cni *c, struct agent_vm_cfg *vm)
{
	char buf[AGENT_WORKLOAD_MAX_BYTES], err[600];
	FILE *f = fopen(c->wfile, "r");
	size_t len;

	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return agent_workload_parse(vm, c->wfile, buf, len, err, sizeof(err)) ? -1 : 0;
}

static int hup_agent(const struct cni *c)
{
	char buf[32];
	FILE *f = fopen(c->pidfile, "r");
	long pid = 0;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			pid = strtol(buf, NULL, 10);
		fclose(f);
	}
	if (pid <= 1 || kill((pid_t)pid, SIGHUP))
		return -1;
	return 0;
}

static int write_workload(const struct cni *c, const struct agent_vm_cfg *vm)
{
	char tmp[sizeof(c->wfile) + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.%s.tmp", c->agent.workloads, c->cid, c->ifname);
	if (!(f = fopen(tmp, "w")))
		return -1;
	if (agent_workload_write(vm, f) | fflush(f) | fsync(fileno(f)) | fclose(f) ||
	    rename(tmp, c->wfile)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- the commands -------------------------------------------------------- */

static int open_netns(const struct cni *c, int *fd)
{
	if ((*fd = open(c->netns, O_RDONLY | O_CLOEXEC)) < 0)
		return cni_fail(c, CNI_ERR_UNKNOWN_CONTAINER, strerror(errno),
				"CNI_NETNS %s: cannot open", c->netns);
	return 0;
}

static int do_add(struct cni *c)
{
	static char ipam_out[CNI_CMD_OUT_MAX];
	char err[CNI_CMD_OUT_MAX], ipbuf[INET_ADDRSTRLEN], cidr[32], macs[18], detail[700];
	struct agent_vm_cfg vm = { 0 };
	uint32_t addr, plen, node;
	bool from_ipam, wrote = false;
	uint8_t mac[6];
	int nsfd = -1, rc = 1;
	json_t *res;

	if (load_agent(c, false))
		return 1;
	if (!our_workload(c, &vm))
		return cni_fail(c, CNI_ERR_ATTACHED, c->wfile, "container %s is attached as %s "
				"already (DEL it first)", c->cid, c->ifname);
	for (node = c->node_first; node <= c->node_last; node++) {
		unsigned i;

		for (i = 0; i < c->agent.nvms && c->agent.vms[i].node != node; i++)
			;
		if (i == c->agent.nvms)
			break;
	}
	if (node > c->node_last)
		return cni_fail(c, CNI_ERR_ADDRESS, NULL, "nodes: all of %u-%u are in use",
				c->node_first, c->node_last);
	if (if_nametoindex(c->host_if))
		return cni_fail(c, CNI_ERR_ATTACHED, c->host_if, "the host interface of this "
				"attachment exists already");
	if (open_netns(c, &nsfd))
		return 1;
	if (address(c, &addr, &plen, &from_ipam))
		goto out;
	for (unsigned i = 0; i < c->agent.nvms; i++)
		if (c->agent.vms[i].vdc == c->vdc && c->agent.vms[i].ip == addr) {
			cni_fail(c, CNI_ERR_ADDRESS, c->agent.vms[i].name, "%s is in use in VDC %u "
				 "on this server", inet_ntop(AF_INET, &(struct in_addr){ htonl(addr) },
							     ipbuf, sizeof(ipbuf)), c->vdc);
			goto out_ipam;
		}
	inet_ntop(AF_INET, &(struct in_addr){ htonl(addr) }, ipbuf, sizeof(ipbuf));
	snprintf(cidr, sizeof(cidr), "%s/%u", ipbuf, plen);
	pgr_mac_make(mac, pgr_id_of(node, PGR_PRIMARY));
	snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);

	/* the veth pair; the container's end moves in under a temporary name */
	if (ip(-1, err, sizeof(err), "link", "add", c->host_if, "type", "veth", "peer", "name",
	       c->tmp_if, NULL)) {
		cni_fail(c, CNI_ERR_IO, err, "cannot create the veth pair %s", c->host_if);
		goto out_ipam;
	}
	if (ip(-1, err, sizeof(err), "link", "set", c->tmp_if, "netns", c->netns, NULL) ||
	    ip(nsfd, err, sizeof(err), "link", "set", c->tmp_if, "name", c->ifname, NULL) ||
	    ip(nsfd, err, sizeof(err), "link", "set", c->ifname, "address", macs, NULL) ||
	    ip(nsfd, err, sizeof(err), "addr", "add", cidr, "dev", c->ifname, NULL) ||
	    ip(nsfd, err, sizeof(err), "link", "set", c->ifname, "up", NULL) ||
	    ip(nsfd, err, sizeof(err), "link", "set", "lo", "up", NULL) ||
	    ip(-1, err, sizeof(err), "link", "set", c->host_if, "up", NULL)) {
		cni_fail(c, CNI_ERR_IO, err, "cannot set up %s in %s", c->ifname, c->netns);
		goto out_veth;
	}

	/* the workload file, then the agent */
	snprintf(vm.name, sizeof(vm.name), "c-%.40s-%s", c->cid, c->ifname);
	vm.vdc = c->vdc;
	vm.ip = addr;
	vm.node = node;
	snprintf(vm.port, sizeof(vm.port), "%s", c->host_if);
	if (write_workload(c, &vm)) {
		cni_fail(c, CNI_ERR_IO, strerror(errno), "cannot write %s", c->wfile);
		goto out_veth;
	}
	wrote = true;
	if (hup_agent(c)) {
		cni_fail(c, CNI_ERR_AGENT, c->pidfile, "no agent to tell (agentPidFile)");
		goto out_veth;
	}
	if (c->attach_ms) {
		uint32_t ifindex = if_nametoindex(c->host_if);
		uint64_t until = now_ms() + c->attach_ms;

		while (!pgr_dp_tc_attached(ifindex) && now_ms() < until)
			usleep(2000);
		if (!pgr_dp_tc_attached(ifindex)) {
			snprintf(detail, sizeof(detail), "the agent (%s) did not attach %s within "
				 "%u ms; its log says why (a clash with its own VMs, say)",
				 c->pidfile, c->host_if, c->attach_ms);
			cni_fail(c, CNI_ERR_AGENT, detail, "the agent did not take the workload");
			goto out_veth;
		}
	}

	res = json_pack("{s:s, s:[{s:s}, {s:s, s:s, s:s}], s:[{s:s, s:i}]}",
			"cniVersion", c->version,
			"interfaces", "name", c->host_if,
			"name", c->ifname, "mac", macs, "sandbox", c->netns,
			"ips", "address", cidr, "interface", 1);
	json_dumpf(res, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(res);
	rc = 0;
	goto out;

out_veth:
	if (wrote) {
		unlink(c->wfile);
		hup_agent(c);
	}
	ip(-1, err, sizeof(err), "link", "del", c->host_if, NULL);
	ip(-1, err, sizeof(err), "link", "del", c->tmp_if, NULL);
out_ipam:
	if (from_ipam)
		ipam(c, "DEL", ipam_out, sizeof(ipam_out));
out:
	if (nsfd >= 0)
		close(nsfd);
	return rc;
}

static int do_del(struct cni *c)
{
	char err[CNI_CMD_OUT_MAX];
	static char out[CNI_CMD_OUT_MAX];
	int r = load_agent(c, true);

	/* DEL cleans up what it can: an agent configuration that is gone (the
	 * host being torn down) leaves the veth and the address to release */
	if (r > 0)
		return 1;
	if (r == 0 && !access(c->wfile, F_OK)) {
		if (unlink(c->wfile) && errno != ENOENT)
			return cni_fail(c, CNI_ERR_IO, strerror(errno), "cannot remove %s", c->wfile);
		hup_agent(c);	/* an agent that is gone has nothing to forget */
	}
	if (if_nametoindex(c->host_if) &&
	    ip(-1, err, sizeof(err), "link", "del", c->host_if, NULL) && if_nametoindex(c->host_if))
		return cni_fail(c, CNI_ERR_IO, err, "cannot remove %s", c->host_if);
	if (json_object_get(c->conf, "ipam") && ipam(c, "DEL", out, sizeof(out)))
		return 1;
	return 0;
}

static int do_check(struct cni *c)
{
	char out[CNI_CMD_OUT_MAX], err[256], ipbuf[INET_ADDRSTRLEN], want[32];
	json_t *prev = json_object_get(c->conf, "prevResult"), *j;
	const char *pa = NULL;
	struct agent_vm_cfg vm;
	char *argv[] = { "ip", "-j", "addr", "show", "dev", (char *)c->ifname, NULL };
	uint32_t ifindex;
	int nsfd, st;
	bool found = false;

	if (!prev)
		return cni_fail(c, CNI_ERR_CONFIG, NULL, "CHECK needs prevResult");
	pa = json_string_value(json_object_get(json_array_get(json_object_get(prev, "ips"), 0),
					       "address"));
	if (load_agent(c, false))
		return 1;
	if (our_workload(c, &vm))
		return cni_fail(c, CNI_ERR_CHECK, c->wfile, "not attached: no workload file");
	inet_ntop(AF_INET, &(struct in_addr){ htonl(vm.ip) }, ipbuf, sizeof(ipbuf));
	if (vm.vdc != c->vdc || strcmp(vm.port, c->host_if))
		return cni_fail(c, CNI_ERR_CHECK, c->wfile, "the workload file is not this "
				"attachment's (VDC %u, port %s)", vm.vdc, vm.port);
	if (!pa || strncmp(pa, ipbuf, strlen(ipbuf)) || pa[strlen(ipbuf)] != '/')
		return cni_fail(c, CNI_ERR_CHECK, pa, "prevResult's address is not %s", ipbuf);
	snprintf(want, sizeof(want), "%s", pa);
	if (!(ifindex = if_nametoindex(c->host_if)))
		return cni_fail(c, CNI_ERR_CHECK, c->host_if, "the host interface is gone");
	if (!pgr_dp_tc_attached(ifindex))
		return cni_fail(c, CNI_ERR_CHECK, c->host_if, "the agent's data plane is not "
				"attached to the host interface");
	if (open_netns(c, &nsfd))
		return 1;
	st = run(argv, nsfd, NULL, out, sizeof(out), err, sizeof(err), NULL);
	close(nsfd);
	if (st)
		return cni_fail(c, CNI_ERR_CHECK, err, "%s is gone from the container",
				c->ifname);
	j = json_loads(out, 0, NULL);
	for (size_t i = 0; i < json_array_size(j); i++) {
		json_t *ai = json_object_get(json_array_get(j, i), "addr_info");

		for (size_t k = 0; k < json_array_size(ai); k++) {
			json_t *a = json_array_get(ai, k);
			char have[64];

			snprintf(have, sizeof(have), "%s/%lld",
				 json_string_value(json_object_get(a, "local"))
					 ? json_string_value(json_object_get(a, "local")) : "",
				 (long long)json_integer_value(json_object_get(a, "prefixlen")));
			found |= !strcmp(have, want);
		}
	}
	json_decref(j);
	if (!found)
		return cni_fail(c, CNI_ERR_CHECK, want, "%s in the container lacks its address",
				c->ifname);
	if (json_object_get(c->conf, "ipam") && ipam(c, "CHECK", out, sizeof(out)))
		return 1;
	return 0;
}

static const char cni_help[] =
	"Usage: peregrine-cni            (as a CNI plugin: CNI_COMMAND etc. set)\n"
	"       peregrine cni [--help]\n"
	"\n"
	"A CNI 1.0 plugin: attaches a container to a VDC as the lab attaches a VM\n"
	"(a veth, the workload's Peregrine MAC and address, the host agent told\n"
	"through a file in its workloads directory).  Install it as a link named\n"
	"peregrine-cni to this binary in the runtime's CNI_PATH.  Configuration\n"
	"(stdin, JSON): cniVersion \"1.0.0\", name, type \"peregrine-cni\", vdc,\n"
	"agentConfig (the agent's configuration file), agentPidFile, nodes\n"
	"[FIRST, LAST] (node numbers this host gives to workloads), and one of\n"
	"ip \"A.B.C.D/LEN\", CNI_ARGS IP=A.B.C.D/LEN or ipam {type, ...};\n"
	"attachTimeoutMs (default 3000).  docs/cni.md.\n";

int cmd_cni(int argc, char **argv)
{
	struct cni c = { .lock_fd = -1 };
	int rc;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(cni_help, stdout);
		return 0;
	}
	if (argc > 1)
		return cli_usage_error("cni", "takes no arguments: the runtime passes CNI_COMMAND "
				       "and the configuration on stdin");
	if (!getenv("CNI_COMMAND")) {
		fputs(cni_help, stderr);
		return cni_fail(&c, CNI_ERR_ENV, NULL, "CNI_COMMAND is not set");
	}
	if ((rc = parse(&c)))
		goto done;
	if (!strcmp(c.command, "VERSION")) {
		printf("{\n  \"cniVersion\": \"%s\",\n  \"supportedVersions\": [ \"%s\" ]\n}\n",
		       CNI_VERSION, CNI_VERSION);
		rc = 0;
	} else if (!strcmp(c.command, "ADD")) {
		rc = do_add(&c);
	} else if (!strcmp(c.command, "DEL")) {
		rc = do_del(&c);
	} else if (!strcmp(c.command, "CHECK")) {
		rc = do_check(&c);
	} else {
		rc = cni_fail(&c, CNI_ERR_ENV, c.command, "CNI_COMMAND: not ADD, DEL, CHECK or "
			      "VERSION");
	}
done:
	if (c.agent_loaded)
		agent_config_free(&c.agent);
	if (c.lock_fd >= 0)
		close(c.lock_fd);
	json_decref(c.conf);
	return rc;
}
