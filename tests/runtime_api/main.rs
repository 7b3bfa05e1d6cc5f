//! The runtime API end to end: the real `pointsman` binary, its real unix admin sockets, real
//! HTTP traffic to real `pointsman-backend` processes, and the real clients operators use
//! (`socat`, `hatop` in tmux, `pointsman ctl`). Replies are compared byte for byte with the
//! HAProxy 2.6 captures in `tests/fixtures/haproxy-2.6/`; where pointsman deliberately differs
//! (documented in `docs/runtime-api.md`) the test asserts pointsman's own text.
//!
//! - `replies`: the reply catalogue, `help`, `show …` outputs against the captures.
//! - `framing`: one-shot, pipelined, `;`, prompt mode, CRLF, long lines, quit, timeouts.
//! - `levels`: `user` / `operator` / `admin` sockets and the socket file mode.
//! - `propagation`: after a mutation's reply, requests on every shard obey the new state.
//! - `inflight`: add, drain, del, maint, `shutdown sessions` with requests in flight.
//! - `clients`: socat, `pointsman ctl`, hatop.

#[path = "../common/mod.rs"]
mod common;

mod clients;
mod framing;
mod inflight;
mod levels;
mod propagation;
mod replies;

use common::*;
use std::time::Duration;

/// The HAProxy capture setup (`haproxy-2.6-captures/setup/haproxy.cfg`) on free loopback
/// ports: `frontend app` (iid 2) → `backend bk_app` (iid 3) with the backup `nginx1` and the
/// active `nginx2`, and `listen stats` (iid 4), so that ids, rows and replies line up with the
/// captures. (The capture's `stats enable` page is left out: pointsman does not serve it.)
pub struct Setup {
    pub nginx1: Backend,
    pub nginx2: Backend,
    /// A third backend, not in the config: the target of `add server` and `set server addr`.
    pub nginx3: Backend,
    pub port: u16,
    pub p: Pointsman,
}

/// Options of [`Setup::start`].
pub struct Options {
    pub shards: usize,
    /// Extra `global` lines (more sockets, `stats timeout`).
    pub global: String,
    /// Extra keywords on both `server` lines (e.g. `inter 30s`).
    pub server: &'static str,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            shards: 2,
            global: String::new(),
            server: "",
        }
    }
}

impl Setup {
    pub fn start(options: Options) -> Setup {
        let nginx1 = backend("nginx1", "nginx 1.18.0", &[]);
        let nginx2 = backend("nginx2", "nginx 1.19.8", &[]);
        let nginx3 = backend("nginx3", "nginx3 backend", &[]);
        let (port, stats_port) = (free_port(), free_port());
        let config = format!(
            "global\n    stats socket @SOCKET@ mode 660 level admin\n{global}\
             defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
             frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk_app\n\
             backend bk_app\n    server nginx1 127.0.0.1:{p1} check backup{extra}\n    server nginx2 127.0.0.1:{p2} check{extra}\n\
             listen stats\n    bind 127.0.0.1:{stats_port}\n",
            global = options.global,
            extra = options.server,
            p1 = nginx1.port(),
            p2 = nginx2.port(),
        );
        let p = pointsman(&config, options.shards, port);
        let setup = Setup {
            nginx1,
            nginx2,
            nginx3,
            port,
            p,
        };
        setup.wait_checked();
        setup
    }

    /// Waits until both servers passed their first health check (`UP`, `L4OK`), as in the
    /// captures.
    pub fn wait_checked(&self) {
        wait_for(Duration::from_secs(10), || {
            let stat = self.admin("show stat -1 4 -1");
            stat.lines()
                .filter(|l| l.starts_with("bk_app,"))
                .all(|l| column(l, "status") == "UP" && column(l, "check_status") == "L4OK")
        });
    }

    pub fn admin(&self, command: &str) -> String {
        self.p.admin(command)
    }

    /// Replaces the capture's ports (28081–28083) by this setup's.
    pub fn ports(&self, text: &str) -> String {
        text.replace("28081", &self.nginx1.port().to_string())
            .replace("28082", &self.nginx2.port().to_string())
            .replace("28083", &self.nginx3.port().to_string())
    }

    /// Which server answers one GET on a fresh connection.
    pub fn served_by(&self) -> String {
        let r = get(self.port, "/").expect("response");
        assert_eq!(r.status, 200, "{}", r.text());
        r.header("x-server").unwrap_or("").to_string()
    }
}

/// The header of `show stat` (HAProxy 2.6's 128 columns).
pub const STAT_HEADER: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,";

/// The value of the named column in one `show stat` CSV row.
pub fn column<'a>(row: &'a str, name: &str) -> &'a str {
    let index = STAT_HEADER[2..]
        .split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    row.split(',').nth(index).unwrap_or("")
}

/// The `show stat` row of `pxname,svname`.
pub fn stat_row<'a>(stat: &'a str, proxy: &str, name: &str) -> Option<&'a str> {
    let prefix = format!("{proxy},{name},");
    stat.lines().find(|l| l.starts_with(&prefix))
}

/// A capture file from `tests/fixtures/haproxy-2.6/`.
pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/haproxy-2.6/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// pointsman's `show version` line (HAProxy prints its own version).
pub fn version() -> String {
    format!("pointsman-{}", env!("CARGO_PKG_VERSION"))
}
