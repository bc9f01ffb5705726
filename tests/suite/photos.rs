//! Photos instead of URLs, on SQLite and on PostgreSQL: a citizen's phone photo (a real JPEG
//! with a GPS position in its EXIF) goes up with the report as multipart/form-data, comes back
//! byte for byte to staff, re-encoded without EXIF to the reporter and — once approved — to
//! everyone; what is not an image by its content, too big or too many is refused with nothing
//! stored; a photo of a case the caller may not see is a 404.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::cases::{BACKENDS, CaseApp, TEST_CLASS, case_app};
use common::send;
use serde_json::{Value, json};
use sha2::Digest;
use std::io::Cursor;

/// Where the test photo says it was taken (121°27'36.72"E, 30°55'8.76"N).
const EXIF_LON: f64 = 121.0 + 27.0 / 60.0 + 36.72 / 3600.0;
const EXIF_LAT: f64 = 30.0 + 55.0 / 60.0 + 8.76 / 3600.0;

/// A real JPEG from the `image` crate, 640×480, with an EXIF block holding a GPS position.
fn phone_photo(seed: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8 ^ seed, (y / 2) as u8, seed.wrapping_mul(7)])
    });
    let mut jpeg = Cursor::new(Vec::new());
    image.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let jpeg = jpeg.into_inner();
    with_gps(&jpeg)
}

fn with_gps(jpeg: &[u8]) -> Vec<u8> {
    use exif::{Field, In, Rational, Tag, Value};
    let r = |num: u32, denom: u32| Rational { num, denom };
    let fields = [
        Field {
            tag: Tag::GPSLatitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"N".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(30, 1), r(55, 1), r(876, 100)]),
        },
        Field {
            tag: Tag::GPSLongitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"E".to_vec()]),
        },
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(121, 1), r(27, 1), r(3672, 100)]),
        },
        Field {
            tag: Tag::Make,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"TestPhone".to_vec()]),
        },
    ];
    let mut writer = exif::experimental::Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff.into_inner());
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn gps_of(bytes: &[u8]) -> Option<(f64, f64)> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let deg = |tag| match &exif.get_field(tag, exif::In::PRIMARY)?.value {
        exif::Value::Rational(v) => {
            Some(v[0].to_f64() + v[1].to_f64() / 60.0 + v[2].to_f64() / 3600.0)
        }
        _ => None,
    };
    Some((deg(exif::Tag::GPSLongitude)?, deg(exif::Tag::GPSLatitude)?))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A multipart/form-data body: text fields, then files (name, file name, type, bytes).
fn multipart(texts: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "gridlink-test-boundary-7e1f";
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file, content_type, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {content_type}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(
    app: &CaseApp,
    path: &str,
    key: Option<&str>,
    texts: &[(&str, &str)],
    files: &[(&str, &str, &str, &[u8])],
) -> (StatusCode, Value) {
    let (content_type, body) = multipart(texts, files);
    let mut request = Request::post(path).header("content-type", content_type);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let (status, _, bytes) = send(app.app(), request.body(Body::from(body)).unwrap()).await;
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// GET a photo: status, content type, bytes.
async fn fetch(app: &CaseApp, path: &str, key: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let (status, content_type, bytes) = send(app.app(), request.body(Body::empty()).unwrap()).await;
    (status, content_type, bytes.to_vec())
}

/// Every file under the photo directory (relative names).
fn stored_files(app: &CaseApp) -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(app.photos_dir.path(), app.photos_dir.path(), &mut out);
    out.sort();
    out
}

async fn case_count(app: &CaseApp) -> i64 {
    let (_, list) = app
        .call("GET", "/api/cases", Some(&app.keys.admin), None)
        .await;
    list["total"].as_i64().unwrap()
}

fn report_fields(lon: &str, lat: &str) -> Vec<(&'static str, String)> {
    vec![
        ("class", TEST_CLASS.to_string()),
        ("lon", lon.to_string()),
        ("lat", lat.to_string()),
        ("description", "井盖缺失，附照片".to_string()),
    ]
}

fn texts<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_phone_photo_goes_up_with_the_report_and_comes_back_to_those_who_may_see_it() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let photo = phone_photo(1);
        let hash = sha256(&photo);
        assert_eq!(
            gps_of(&photo).map(|(lon, _)| (lon * 1e4).round()),
            Some((EXIF_LON * 1e4).round())
        );
        let fields = report_fields("121.4602", "30.9191");
        let (status, created) = post_multipart(
            &app,
            "/api/cases",
            None,
            &texts(&fields),
            &[("photos", "IMG_0001.JPG", "image/jpeg", &photo)],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {created}");
        let id = created["id"].as_i64().unwrap();
        let token = created["tracking_token"].as_str().unwrap().to_string();
        // Not approved: the reporter's own answer lists no photo.
        assert_eq!(created["photos"], json!([]));

        // Staff: the case names the photo, with its size and the camera's GPS as a hint…
        let (_, case) = app
            .call(
                "GET",
                &format!("/api/cases/{id}"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        assert_eq!(case["photos"], json!([format!("/api/photos/{hash}")]));
        let info = &case["photo_info"][0];
        assert_eq!(info["bytes"], photo.len());
        assert_eq!(
            (info["width"].as_i64(), info["height"].as_i64()),
            (Some(640), Some(480))
        );
        assert_eq!(info["content_type"], "image/jpeg");
        assert!(
            (info["exif_lon"].as_f64().unwrap() - EXIF_LON).abs() < 1e-6,
            "{info}"
        );
        assert!(
            (info["exif_lat"].as_f64().unwrap() - EXIF_LAT).abs() < 1e-6,
            "{info}"
        );
        // …and get the original, byte for byte, EXIF included.
        let url = format!("/api/photos/{hash}");
        let (status, content_type, original) = fetch(&app, &url, Some(&app.keys.dispatcher)).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "image/jpeg")
        );
        assert_eq!(original, photo);
        // Browsers' <img> tags send the key as ?key=.
        let (status, _, _) = fetch(&app, &format!("{url}?key={}", app.keys.dispatcher), None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, thumb) = fetch(&app, &format!("{url}?thumb=1"), Some(app.unit_key())).await;
        assert_eq!(status, StatusCode::OK);
        let thumb = image::load_from_memory(&thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 240));

        // The public: nothing before approval, not even the thumbnail.
        for path in [url.clone(), format!("{url}?thumb=1")] {
            let (status, _, body) = fetch(&app, &path, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(!body.starts_with(&[0xFF, 0xD8]));
        }
        // The reporter, with the token: a re-encoded copy without EXIF.
        let (_, tracked) = app
            .call("GET", &format!("/api/track/{id}?token={token}"), None, None)
            .await;
        let mine = tracked["your_photos"][0]["url"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(mine.starts_with(&url) && mine.contains(&token), "{mine}");
        let (status, content_type, copy) = fetch(&app, &mine, None).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "image/jpeg")
        );
        assert_ne!(copy, photo);
        assert_eq!(gps_of(&copy), None, "EXIF GPS stripped");
        assert!(
            !copy.windows(9).any(|w| w == b"TestPhone"),
            "no EXIF at all"
        );
        let decoded = image::load_from_memory(&copy).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (640, 480));
        let (status, _, _) = fetch(
            &app,
            &format!("{url}?case={id}&token={}", "0".repeat(32)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a wrong token");

        // Approved on a listed case: everyone gets the EXIF-free copy, Open311 links it.
        app.act(
            id,
            &app.keys.dispatcher,
            json!({"action": "publish", "publish_photos": true}),
        )
        .await;
        let (status, _, public) = fetch(&app, &url, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(public, copy);
        assert_eq!(gps_of(&public), None);
        let (_, request) = app
            .call(
                "GET",
                &format!("/open311/v2/requests/{id}.json"),
                None,
                None,
            )
            .await;
        assert_eq!(request[0]["media_url"], url.as_str(), "{backend:?}");
        // File names never reach the disk: only hashes.
        let files = stored_files(&app);
        assert_eq!(
            files,
            [
                format!("{}/{hash}", &hash[..2]),
                format!("{}/{hash}.public.jpg", &hash[..2]),
                format!("{}/{hash}.thumb.jpg", &hash[..2]),
            ]
        );
    }
}

#[tokio::test]
async fn uploads_that_are_not_photos_too_big_or_too_many_are_refused_with_nothing_stored() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let fields = report_fields("121.4602", "30.9191");
        let good = phone_photo(2);
        let html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>".to_vec();
        let mut too_big = good.clone();
        too_big.resize(10 * 1024 * 1024 + 1, 0);
        let photos: Vec<Vec<u8>> = (0..10).map(phone_photo).collect();

        // A web page called photo.jpg and declared image/jpeg, after a good photo: 415 naming
        // it, and the good one is not stored either.
        let (status, body) = post_multipart(
            &app,
            "/api/cases",
            None,
            &texts(&fields),
            &[
                ("photos", "ok.jpg", "image/jpeg", &good),
                ("photos", "photo.jpg", "image/jpeg", &html),
            ],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{backend:?}: {body}"
        );
        assert_eq!(body["error"]["code"], "unsupported_photo");
        assert_eq!(body["error"]["field"], "photos[1]");

        let (status, body) = post_multipart(
            &app,
            "/api/cases",
            None,
            &texts(&fields),
            &[("photos", "big.jpg", "image/jpeg", &too_big)],
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["field"], "photos[0]");

        let ten: Vec<(&str, &str, &str, &[u8])> = photos
            .iter()
            .map(|p| ("photos", "p.jpg", "image/jpeg", p.as_slice()))
            .collect();
        let (status, body) = post_multipart(&app, "/api/cases", None, &texts(&fields), &ten).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], "too_many_photos");
        // Nine uploads and a URL are ten photos as well.
        let mut with_url = fields.clone();
        with_url.push(("photos", "https://example.org/a.jpg".to_string()));
        let (status, _) =
            post_multipart(&app, "/api/cases", None, &texts(&with_url), &ten[..9]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        // A good photo with a bad report: 400, and the photo is not kept.
        let mut bad = fields.clone();
        bad[3].1 = " ".into();
        let (status, body) = post_multipart(
            &app,
            "/api/cases",
            None,
            &texts(&bad),
            &[("photos", "ok.jpg", "image/jpeg", &good)],
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("description"))
        );
        // Files only in parts named photos; a path-like file name changes nothing.
        let (status, body) = post_multipart(
            &app,
            "/api/cases",
            None,
            &texts(&fields),
            &[("attachment", "../../etc/passwd", "image/jpeg", &good)],
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("attachment"))
        );

        assert_eq!(case_count(&app).await, 0, "{backend:?}: no case stored");
        assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));

        // Nine good ones are fine; a path-like name is just a name.
        let (status, created) = post_multipart(
            &app,
            "/api/cases",
            None,
            &texts(&fields),
            &[("photos", "../../../tmp/evil.jpg", "image/jpeg", &good)],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(
            stored_files(&app)
                .iter()
                .all(|f| !f.contains("evil") && !f.contains(".."))
        );
        let (status, _) =
            post_multipart(&app, "/api/cases", None, &texts(&fields), &ten[..9]).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(
            stored_files(&app).len(),
            3 * 9,
            "the repeated photo is stored once"
        );
    }
}

#[tokio::test]
async fn nobody_without_a_key_fetches_a_photo_of_a_case_they_may_not_see() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let upload = |class: &'static str, key: Option<String>, seed: u8| {
            let app = &app;
            async move {
                let photo = phone_photo(seed);
                let mut fields = report_fields("121.4602", "30.9191");
                fields[0].1 = class.into();
                if key.is_some() {
                    fields.push(("channel", "hotline_12345".into()));
                }
                let (status, body) = post_multipart(
                    app,
                    "/api/cases",
                    key.as_deref(),
                    &texts(&fields),
                    &[("photos", "p.jpg", "image/jpeg", &photo)],
                )
                .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                (body["id"].as_i64().unwrap(), sha256(&photo), body)
            }
        };
        // A private case, its photos approved: still only its reporter sees them.
        let (private, private_hash, answer) = upload("Z0203", None, 10).await;
        let token = answer["tracking_token"].as_str().unwrap().to_string();
        app.act(
            private,
            &app.keys.dispatcher,
            json!({"action": "publish", "publish_photos": true}),
        )
        .await;
        let url = format!("/api/photos/{private_hash}");
        assert_eq!(
            fetch(&app, &url, None).await.0,
            StatusCode::NOT_FOUND,
            "{backend:?}"
        );
        assert_eq!(
            fetch(&app, &format!("{url}?case={private}&token={token}"), None)
                .await
                .0,
            StatusCode::OK
        );
        // A staff-entered case, approved: not listed, so not public.
        let (staff, staff_hash, _) =
            upload(TEST_CLASS, Some(app.keys.dispatcher.clone()), 11).await;
        app.act(
            staff,
            &app.keys.dispatcher,
            json!({"action": "publish", "publish_photos": true}),
        )
        .await;
        assert_eq!(
            fetch(&app, &format!("/api/photos/{staff_hash}"), None)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // The private case's token does not open another case's photo.
        assert_eq!(
            fetch(
                &app,
                &format!("/api/photos/{staff_hash}?case={private}&token={token}"),
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        // A unit's feedback photo (multipart on the action) is for staff only, even on a listed
        // case with its report photos approved.
        let (public, _, _) = upload(TEST_CLASS, None, 12).await;
        for action in [json!({"action": "file"}), json!({"action": "dispatch"})] {
            app.act(public, &app.keys.dispatcher, action).await;
        }
        app.act(
            public,
            &app.keys.dispatcher,
            json!({"action": "publish", "publish_photos": true}),
        )
        .await;
        let after = phone_photo(13);
        let (status, body) = post_multipart(
            &app,
            &format!("/api/cases/{public}/actions"),
            Some(app.unit_key()),
            &[("action", "feedback"), ("note", "已更换井盖")],
            &[("photos", "after.jpg", "image/jpeg", &after)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "handled");
        let after_url = format!("/api/photos/{}", sha256(&after));
        assert_eq!(fetch(&app, &after_url, None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            fetch(&app, &after_url, Some(&app.keys.supervisor)).await.0,
            StatusCode::OK
        );
        let (_, case) = app
            .call(
                "GET",
                &format!("/api/cases/{public}"),
                Some(&app.keys.admin),
                None,
            )
            .await;
        let feedback = case["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "feedback")
            .unwrap();
        assert_eq!(feedback["photos"], json!([after_url]));
        // Unknown and malformed hashes are simply not there.
        for path in [
            format!("/api/photos/{}", "0".repeat(64)),
            "/api/photos/..%2F..%2Fetc%2Fpasswd".to_string(),
            "/api/photos/ABC".to_string(),
        ] {
            assert_eq!(
                fetch(&app, &path, Some(&app.keys.admin)).await.0,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn a_photo_with_a_gps_position_can_stand_in_for_the_map_click() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let photo = phone_photo(20);
        let (status, created) = post_multipart(
            &app,
            "/api/cases",
            Some(&app.keys.dispatcher),
            &[
                ("class", TEST_CLASS),
                ("description", "现场照片定位"),
                ("channel", "supervisor"),
            ],
            &[("photos", "p.jpg", "image/jpeg", &photo)],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {created}");
        assert!((created["lon"].as_f64().unwrap() - EXIF_LON).abs() < 1e-6);
        assert!((created["lat"].as_f64().unwrap() - EXIF_LAT).abs() < 1e-6);
        assert_eq!(created["cell"].as_str().map(str::len), Some(15));
        // Without a position anywhere: 400 naming lon.
        let plain = image::RgbImage::from_pixel(64, 64, image::Rgb([9, 9, 9]));
        let mut png = Cursor::new(Vec::new());
        plain.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let (status, body) = post_multipart(
            &app,
            "/api/cases",
            None,
            &[("class", TEST_CLASS), ("description", "没有位置")],
            &[("photos", "p.png", "image/png", png.get_ref())],
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("lon"))
        );
        // Plain JSON keeps working, URL photos included (for staff).
        let (status, json_case) = app
            .call(
                "POST",
                "/api/cases",
                Some(&app.keys.dispatcher),
                Some(json!({"class": TEST_CLASS, "lon": 121.4602, "lat": 30.9191, "description": "链接照片", "photos": ["https://example.org/a.jpg"], "channel": "supervisor"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(json_case["photos"], json!(["https://example.org/a.jpg"]));
    }
}

#[tokio::test]
async fn of_two_feedbacks_racing_with_photos_only_the_winners_photo_is_kept() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let id = app.report().await;
        for action in [json!({"action": "file"}), json!({"action": "dispatch"})] {
            app.act(id, &app.keys.dispatcher, action).await;
        }
        let (a, b) = (phone_photo(30), phone_photo(31));
        let path = format!("/api/cases/{id}/actions");
        let send_feedback = |photo: &'static [u8]| {
            let app = &app;
            let path = path.clone();
            async move {
                post_multipart(
                    app,
                    &path,
                    Some(app.unit_key()),
                    &[("action", "feedback"), ("note", "已处理")],
                    &[("photos", "after.jpg", "image/jpeg", photo)],
                )
                .await
            }
        };
        let (a, b): (&'static [u8], &'static [u8]) = (a.leak(), b.leak());
        let ((sa, _), (sb, _)) = tokio::join!(send_feedback(a), send_feedback(b));
        let mut codes = [sa, sb];
        codes.sort();
        assert_eq!(codes, [StatusCode::OK, StatusCode::CONFLICT], "{backend:?}");
        let (winner, loser) = if sa == StatusCode::OK { (a, b) } else { (b, a) };
        let files = stored_files(&app);
        assert!(
            files.iter().any(|f| f.ends_with(&sha256(winner))),
            "{files:?}"
        );
        assert!(
            !files.iter().any(|f| f.contains(&sha256(loser))),
            "{files:?}"
        );
        assert_eq!(files.len(), 3);
    }
}
