#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dreamreel_fuzz::worker::mp4_boxes(data));
