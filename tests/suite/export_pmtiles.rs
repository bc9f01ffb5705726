//! `gridlink export pmtiles` as an operator runs it (the binary, on the demo data), read back
//! with the `pmtiles` crate's reader and compared tile by tile with what the real router serves
//! for the same z/x/y and layer list — the list the district style's tile source asks for.

use crate::common;

use common::tile_of;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{demo_store, send};
use geo::{Contains, Coord, Rect};
use gridlink::catalog::Role;
use pmtiles::{AsyncPmTilesReader, Compression, TileCoord, TileType};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn export(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridlink"))
        .current_dir(common::repo())
        .env_remove("GRIDLINK_DATA_DIR")
        .env_remove("GRIDLINK_CONFIG")
        .arg("--data-dir")
        .arg(common::demo_dir())
        .args(["export", "pmtiles"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("gridlink runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn square(z: u8, x: u32, y: u32) -> Rect<f64> {
    let n = f64::from(1u32 << z);
    let lon = |x: f64| x / n * 360.0 - 180.0;
    let lat = |y: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    Rect::new(
        Coord {
            x: lon(f64::from(x)),
            y: lat(f64::from(y) + 1.0),
        },
        Coord {
            x: lon(f64::from(x) + 1.0),
            y: lat(f64::from(y)),
        },
    )
}

/// The layer list of the anonymous map's tile source, read from the style the router serves.
async fn style_layers() -> String {
    let (status, style) = common::get_json("/styles/district.json").await;
    assert_eq!(status, StatusCode::OK);
    let url = style["sources"]["gridlink"]["url"]
        .as_str()
        .expect("the style's tile source has a TileJSON url");
    url.rsplit("/tiles/")
        .next()
        .and_then(|s| s.strip_suffix(".json"))
        .expect("…/tiles/{layers}.json")
        .to_string()
}

/// The router's tile: `None` for 204 (empty), else the bytes (gzipped when `gzip`).
async fn served(layers: &str, z: u8, x: u32, y: u32, gzip: bool) -> Option<Vec<u8>> {
    let mut request = Request::get(format!("/tiles/{layers}/{z}/{x}/{y}.mvt"));
    if gzip {
        request = request.header(header::ACCEPT_ENCODING, "gzip");
    }
    let (status, _, body) = send(
        common::app(false),
        request.body(Body::empty()).expect("request"),
    )
    .await;
    match status {
        StatusCode::OK => Some(body.to_vec()),
        StatusCode::NO_CONTENT => None,
        other => panic!("tile {z}/{x}/{y}: {other}"),
    }
}

struct Town {
    code: String,
    outline: geo::Geometry<f64>,
    extent: Rect<f64>,
}

fn first_town() -> Town {
    let towns = demo_store().by_role(Role::Town).expect("a town layer");
    let geometry = towns.geometry(0);
    Town {
        code: towns.id(0).to_string(),
        outline: geometry.to_geo(),
        extent: geometry.bounding_rect().expect("the town has an outline"),
    }
}

#[tokio::test]
async fn a_town_exported_for_the_phone_holds_the_servers_own_tiles() {
    let town = first_town();
    let layers = style_layers().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("town.pmtiles");
    let output = export(&["--town", &town.code, "--zooms", "12-14"], &out);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("wrote"), "{}", text(&output));

    let reader = AsyncPmTilesReader::new_with_path(&out)
        .await
        .expect("the archive opens");
    let h = reader.get_header();
    assert_eq!(h.tile_type, TileType::Mvt);
    assert_eq!(h.tile_compression, Compression::Gzip);
    assert_eq!((h.min_zoom, h.max_zoom), (12, 14));
    let near = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(
        near(h.min_longitude, town.extent.min().x) && near(h.max_latitude, town.extent.max().y),
        "bounds {} {} vs the town's {:?}",
        h.min_longitude,
        h.max_latitude,
        town.extent
    );
    let metadata: Value = serde_json::from_str(&reader.get_metadata().await.unwrap()).unwrap();
    let ids: Vec<&str> = metadata["vector_layers"]
        .as_array()
        .expect("vector_layers")
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.join(","), layers, "the style's layers, in its order");
    for entry in metadata["vector_layers"].as_array().unwrap() {
        let fields = entry["fields"].as_object().expect("fields");
        assert!(fields.contains_key("id"), "{entry}");
        let def = common::catalog()
            .layers
            .into_iter()
            .find(|d| d.id == entry["id"])
            .unwrap();
        for field in &def.fields {
            assert!(
                fields.contains_key(&field.name),
                "{} lacks {}",
                def.id,
                field.name
            );
        }
    }
    assert!(
        metadata["attribution"]
            .as_str()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(metadata["gridlink:layers"], layers.as_str());

    // Every tile over the town's extent: what the archive holds is the server's tile, byte
    // for byte (gzipped as served, and decoded); a tile whose centre lies in the town is there
    // whenever the server has content for it; nothing the server leaves empty is stored.
    let (mut stored, mut centre_tiles, mut compared_gzip) = (0, 0, 0);
    for z in 12..=14u8 {
        let (x0, y0) = tile_of(town.extent.min().x, town.extent.max().y, z.into());
        let (x1, y1) = tile_of(town.extent.max().x, town.extent.min().y, z.into());
        for y in y0..=y1 {
            for x in x0..=x1 {
                let coord = TileCoord::new(z, x, y).unwrap();
                let archived = reader.get_tile_decompressed(coord).await.unwrap();
                let server = served(&layers, z, x, y, false).await;
                let centre = square(z, x, y).center();
                let centre_inside = town.outline.contains(&geo::Point::from(centre));
                match (&archived, &server) {
                    (Some(a), Some(s)) => {
                        assert!(a[..] == s[..], "tile {z}/{x}/{y} differs from the server's");
                        stored += 1;
                        if compared_gzip < 5 {
                            let gzip = reader.get_tile(coord).await.unwrap().unwrap();
                            let served_gzip = served(&layers, z, x, y, true).await.unwrap();
                            assert!(gzip[..] == served_gzip[..], "gzip of {z}/{x}/{y}");
                            compared_gzip += 1;
                        }
                    }
                    (Some(_), None) => panic!("tile {z}/{x}/{y} stored but the server's is empty"),
                    (None, Some(_)) => assert!(
                        !centre_inside,
                        "tile {z}/{x}/{y} lies in the town and has content, but is missing"
                    ),
                    (None, None) => {}
                }
                if centre_inside {
                    centre_tiles += 1;
                }
            }
        }
        // A tile beyond the extent is never stored.
        let outside = TileCoord::new(z, x1 + 1, y1 + 1).unwrap();
        assert!(reader.get_tile(outside).await.unwrap().is_none());
    }
    assert!(centre_tiles >= 10, "{centre_tiles} tiles in the town");
    assert!(
        stored >= centre_tiles,
        "{stored} stored, {centre_tiles} in the town"
    );
    assert_eq!(compared_gzip, 5);
    assert!(
        !dir.path().join("town.pmtiles.partial").exists(),
        "no partial file is left"
    );
}

#[tokio::test]
async fn a_box_of_chosen_layers_holds_the_tiles_of_that_layer_list() {
    let district = demo_store()
        .by_role(Role::District)
        .unwrap()
        .extent()
        .unwrap();
    let centre = district.center();
    let bbox = format!(
        "{},{},{},{}",
        centre.x - 0.02,
        centre.y - 0.02,
        centre.x + 0.02,
        centre.y + 0.02
    );
    let public: Vec<String> = common::catalog()
        .layers
        .iter()
        .filter(|d| d.is_public())
        .map(|d| d.id.clone())
        .collect();
    // Two public layers, in the reverse of catalogue order: the tile lists them as asked.
    let layers = format!("{},{}", public[3], public[1]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("box.pmtiles");
    let output = export(
        &["--bbox", &bbox, "--zooms", "15", "--layers", &layers],
        &out,
    );
    assert!(output.status.success(), "{}", text(&output));
    let reader = AsyncPmTilesReader::new_with_path(&out).await.unwrap();
    let (x0, y0) = tile_of(centre.x - 0.02, centre.y + 0.02, 15);
    let (x1, y1) = tile_of(centre.x + 0.02, centre.y - 0.02, 15);
    let mut stored = 0;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let archived = reader
                .get_tile_decompressed(TileCoord::new(15, x, y).unwrap())
                .await
                .unwrap();
            let server = served(&layers, 15, x, y, false).await;
            assert_eq!(
                archived.as_deref(),
                server.as_deref(),
                "tile 15/{x}/{y} of {layers}"
            );
            stored += usize::from(archived.is_some());
        }
    }
    assert!(stored > 0, "the box has tiles with content");
    assert!(
        reader
            .get_tile(TileCoord::new(14, x0 / 2, y0 / 2).unwrap())
            .await
            .unwrap()
            .is_none(),
        "no tile outside the zoom range"
    );
}

#[test]
fn a_staff_layer_never_goes_into_an_offline_file() {
    let catalog = common::catalog();
    let staff = catalog.layers.iter().find(|d| !d.is_public()).unwrap();
    let public = catalog.layers.iter().find(|d| d.is_public()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("staff.pmtiles");
    let output = export(
        &[
            "--layers",
            &format!("{},{}", public.id, staff.id),
            "--zooms",
            "12",
        ],
        &out,
    );
    assert!(!output.status.success());
    let message = text(&output);
    assert!(
        message.contains(&format!("{:?}", staff.id)) && message.contains("staff-only"),
        "{message}"
    );
    assert!(!out.exists(), "no file is written");
}

#[test]
fn bad_requests_are_refused_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bad.pmtiles");
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["--layers", "towns,no_such_layer"],
            &["no_such_layer", "unknown layer"],
        ),
        (&["--town", "999999999"], &["unknown town", "999999999"]),
        (&["--zooms", "17-10"], &["--zooms", "backwards"]),
        (&["--zooms", "10-30"], &["--zooms", "deepest zoom"]),
        (
            &["--bbox", "116.3,39.8,116.5,40.0"],
            &["outside the district"],
        ),
        (&["--bbox", "121.4,30.8,121.5"], &["--bbox", "four numbers"]),
    ];
    for (args, expected) in cases {
        let output = export(args, &out);
        let message = text(&output);
        assert!(!output.status.success(), "{args:?} accepted: {message}");
        for word in expected {
            assert!(message.contains(word), "{args:?}: {message}");
        }
        assert!(!out.exists(), "{args:?} wrote a file");
    }
}
