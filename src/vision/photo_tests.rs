//! The models on real photos (tools/fetch-photos) with the real models
//! (tools/fetch-models): `tools/test` fetches both before the tests run.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::*;

fn repo_dir(var: &str, default: &str, tool: &str) -> PathBuf {
    let dir = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(default));
    assert!(dir.is_dir(), "{} is missing: run {tool} first (tools/test does)", dir.display());
    dir
}

pub(crate) fn models_dir() -> PathBuf {
    repo_dir("CONFCAM_MODELS", "target/models", "tools/fetch-models")
}

pub(crate) fn photo(name: &str) -> Vec<u8> {
    std::fs::read(repo_dir("CONFCAM_PHOTOS", "target/face-photos", "tools/fetch-photos").join(name)).unwrap()
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| Models::load(&models_dir()).unwrap())
}

fn picture(name: &str) -> Picture {
    Picture::decode(&photo(name), PhotoLimits::default()).unwrap()
}

#[test]
fn every_face_is_found_in_each_photo() {
    for (name, expected) in
        [("astronaut.png", 1), ("obama.jpg", 1), ("obama2.jpg", 1), ("obama3.jpg", 1), ("biden.jpg", 1), ("t1.jpg", 6)]
    {
        let faces = models().detector.detect(&picture(name), detect::MIN_SCORE).unwrap();
        let scores: Vec<f32> = faces.iter().map(|f| f.score).collect();
        assert_eq!(faces.len(), expected, "{name}: {scores:?}");
    }
}

/// The embedding of every face in each single-person photo, and of each of
/// the six people in t1.jpg.
fn embeddings() -> Vec<(String, Embedding)> {
    let mut out = Vec::new();
    for name in ["astronaut.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "t1.jpg"] {
        let picture = picture(name);
        let faces = models().detector.detect(&picture, detect::MIN_SCORE).unwrap();
        for (i, face) in faces.iter().enumerate() {
            let who = if name.starts_with("obama") { "obama".to_string() } else { format!("{name}#{i}") };
            out.push((who, models().embedder.embed(&picture, face).unwrap()));
        }
    }
    out
}

#[test]
fn the_same_person_is_above_the_threshold_and_different_people_below() {
    let all = embeddings();
    let (mut same, mut different) = (Vec::new(), Vec::new());
    for (i, (a, ea)) in all.iter().enumerate() {
        for (b, eb) in &all[i + 1..] {
            let pair = (format!("{a} ~ {b}"), ea.cosine(eb));
            if a == b { same.push(pair) } else { different.push(pair) }
        }
    }
    assert_eq!(same.len(), 3, "three Obama pairs");
    for (pair, similarity) in &same {
        assert!(*similarity >= gallery::DEFAULT_THRESHOLD, "{pair}: {similarity}");
    }
    for (pair, similarity) in &different {
        assert!(*similarity < gallery::DEFAULT_THRESHOLD, "{pair}: {similarity}");
    }
}

#[test]
fn obama_enrolled_from_one_photo_is_recognised_in_the_others_and_nobody_else_is() {
    let (_, enrolled) = models().enrollment(&picture("obama.jpg")).unwrap();
    let gallery = Gallery::new(vec![(PersonId(1), enrolled)]);
    for name in ["obama2.jpg", "obama3.jpg"] {
        let (_, face) = models().enrollment(&picture(name)).unwrap();
        let found = gallery.identify(&face, gallery::DEFAULT_THRESHOLD);
        assert_eq!(found.map(|m| m.person), Some(PersonId(1)), "{name}");
    }
    for (who, face) in embeddings().iter().filter(|(who, _)| who != "obama") {
        assert_eq!(gallery.identify(face, gallery::DEFAULT_THRESHOLD), None, "{who}");
    }
}

#[test]
fn enrollment_refuses_a_group_photo_and_a_photo_without_a_face() {
    let err = models().enrollment(&picture("t1.jpg")).unwrap_err();
    assert!(matches!(err, EnrollError::SeveralFaces(6)), "{err}");
    let blank = Picture { width: 640, height: 480, rgb: vec![128; 640 * 480 * 3] };
    let err = models().enrollment(&blank).unwrap_err();
    assert!(matches!(err, EnrollError::NoFace), "{err}");
    // A face too small to remember someone by.
    let small = picture("obama.jpg").scaled(0.08);
    let err = models().enrollment(&small).unwrap_err();
    assert!(matches!(err, EnrollError::TooSmall { .. } | EnrollError::NoFace), "{err}");
}

#[test]
fn a_meeting_that_ends_closes_its_attendance_and_the_next_checks_people_in_afresh() {
    use std::time::{Duration, Instant};

    use super::checkin::CheckInRules;
    use super::pipeline::{Pipeline, PipelineSettings};
    use crate::capture::{BufferPool, Frame, PixelFormat};
    use crate::store::Store;

    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path()).unwrap();
    let (_, face) = models().enrollment(&picture("obama.jpg")).unwrap();
    let obama = store.add_person("Barack Obama", None, &[face], &[], 0).unwrap();
    let settings = PipelineSettings {
        fps: 5,
        analysis_width: 640,
        threshold: gallery::DEFAULT_THRESHOLD,
        retention: Duration::from_secs(86_400),
        rules: CheckInRules::default(),
    };
    let (events, _) = tokio::sync::broadcast::channel(64);
    let (faces, _) = tokio::sync::watch::channel(Vec::new());
    let models = std::sync::Arc::new(Models::load(&models_dir()).unwrap());
    let mut pipeline = Pipeline::new(models, settings, store.clone(), events, faces);
    let (width, height, i420) = picture("obama2.jpg").to_i420();
    let mut data = BufferPool::default().take();
    data.clear();
    data.extend_from_slice(&i420);
    let frame = Frame { seq: 0, captured_at: Instant::now(), width, height, format: PixelFormat::I420, data };
    let t0 = Instant::now();
    let seen_for = |pipeline: &mut Pipeline, from: u32, unix: i64| {
        for n in from..from + 10 {
            pipeline.analyse(&frame, t0 + Duration::from_millis(200) * n, unix).unwrap();
        }
    };

    seen_for(&mut pipeline, 0, 1000);
    let meetings = store.meetings().unwrap();
    assert_eq!(meetings.len(), 1, "the check-in opened the meeting's attendance");
    assert_eq!(meetings[0].ended_at, None);
    pipeline.meeting_ended(2000);
    assert_eq!(store.meetings().unwrap()[0].ended_at, Some(2000), "and its end closed it");
    // The same person in the next meeting checks in to it.
    seen_for(&mut pipeline, 10, 3000);
    let meetings = store.meetings().unwrap();
    assert_eq!(meetings.len(), 2, "{meetings:?}");
    assert_eq!(store.attendance(meetings[0].id).unwrap()[0].person, obama);
}
