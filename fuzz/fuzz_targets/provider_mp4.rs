#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dreamreel_fuzz::worker::provider_mp4(data));
