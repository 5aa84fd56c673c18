//! The far end of an outbound HTTP call, for tests that stand in for a webhook receiver or a
//! license server with a bare `TcpListener`.

use std::io::Read;

/// Reads one whole HTTP/1.1 request: its head and as many body bytes as its `content-length`
/// says. A peer that answers after a single `read` and closes may leave part of the request
/// unread (the client can write the head and the body separately), and closing a socket with
/// unread data makes the kernel send a reset that can reach the client before the answer does.
pub fn read_request(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    let length = String::from_utf8_lossy(&got[..head_end])
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while got.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}
