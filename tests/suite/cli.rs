//! The `gridlink` binary as an operator uses it: gen-data, check and serve.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

fn gridlink() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridlink"));
    cmd.current_dir(common::repo())
        .env_remove("GRIDLINK_DATA_DIR")
        .env_remove("GRIDLINK_CONFIG");
    cmd
}

#[test]
fn check_reports_every_layer_and_passes_the_topology_check() {
    let output = gridlink()
        .args(["check", "--data-dir"])
        .arg(common::demo_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for layer in common::catalog().layers {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{} ", layer.id))),
            "{} missing:\n{stdout}",
            layer.id
        );
    }
    assert!(stdout.contains("27 layers"), "{stdout}");
    assert!(
        stdout.contains("every grid_cells in exactly one villages"),
        "{stdout}"
    );
    assert!(stdout.contains("check passed"), "{stdout}");
}

#[test]
fn check_refuses_a_broken_catalogue_and_says_which_file() {
    let layers = common::copy_layers();
    let path = layers.path().join("roads.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("geometry = \"line\"", "geometry = \"lines\"");
    std::fs::write(&path, text).unwrap();
    let output = gridlink()
        .args(["check", "--layers-dir"])
        .arg(layers.path())
        .arg("--data-dir")
        .arg(common::demo_dir())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("roads.toml") && stderr.contains("geometry"),
        "{stderr}"
    );
}

#[test]
fn check_fails_when_a_layer_file_is_missing() {
    let data = tempfile::tempdir().unwrap();
    let output = gridlink()
        .args(["check", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not be loaded") && stderr.contains("no such file"),
        "{stderr}"
    );
}

#[test]
fn gen_data_writes_the_dataset_and_says_so() {
    let out = tempfile::tempdir().unwrap();
    let output = gridlink()
        .args(["gen-data", "--scale", "0.05", "--seed", "11", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("wrote 27 geojson files"), "{stdout}");
    assert!(out.path().join("grid_cells.geojson").is_file());
    let bad = gridlink()
        .args(["gen-data", "--scale=0", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("scale"));
}

/// Starts `gridlink serve` on a free port and asks it for its health over a real socket.
#[test]
fn serve_answers_health_over_http() {
    let mut child = gridlink()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(common::demo_dir())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut address = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            address = Some(rest.trim().to_string());
            break;
        }
    }
    let address = address.expect("server reports its address");
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"ok\""), "{response}");
}
