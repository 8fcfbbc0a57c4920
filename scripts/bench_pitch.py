"""Pitch bench for scripts/bench-pitch.sh: `make DIR` writes the known-truth
takes, `run TAKEBOX WORK` measures takebox check, pyin and yin and prints the
table. Each method gets the same 3 s of audio and the same search range (a
fifth either side of the planned note); pyin's and yin's pitch is the median
of their voiced (yin: loud) frames."""
import json, math, os, resource, subprocess, sys, time
import numpy as np
import soundfile as sf

SR = 48000
NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def midi_of(name):
    n = name.rstrip("0123456789")
    return NAMES.index(n) + 12 * (int(name[len(n):]) + 1)


def name_of(midi):
    return f"{NAMES[midi % 12]}{midi // 12 - 1}"


def hz_of(midi):
    return 440.0 * 2 ** ((midi - 69) / 12)


def make(out):
    rng = np.random.default_rng(16)
    truth = {}
    notes = list(range(21, 109, 4)) + [108]
    for i, midi in enumerate(notes):
        detune = rng.uniform(-30, 30)
        f1 = hz_of(midi) * 2 ** (detune / 1200)
        n = 3 * SR
        t = np.arange(n) / SR
        on = int(0.3 * SR)
        tt = np.maximum(t - t[on], 0)
        attack = rng.uniform(-50, 50) * np.exp(-tt / rng.uniform(0.05, 0.15))
        vib = (i % 3 == 0) * rng.uniform(5, 20) * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * tt)
        cents = attack + vib
        phase = 2 * np.pi * np.cumsum(f1 * 2 ** (cents / 1200)) / SR
        # A piano's inharmonicity: ~1e-4 in the tenor, 2e-4 at A0, 0.02 at C8.
        b = 10 ** (-4 + (2.3 * (midi - 48) / 60 if midi > 48 else 0.3 * (48 - midi) / 27))
        x = np.zeros(n)
        for k in range(1, 12):
            fk = k * math.sqrt(1 + b * k * k)
            if fk * f1 > 0.45 * SR:
                break
            x += (0.6 / k) * np.sin(fk * phase) * np.exp(-tt * (1 + 0.3 * k))
        x *= (t >= t[on]) * (1 - np.exp(-tt / 0.003))
        x = 0.5 * x / np.max(np.abs(x)) + rng.normal(0, 10 ** (-70 / 20), n)
        name = name_of(midi)
        sf.write(f"{out}/{name}.wav", x, SR, subtype="PCM_24")
        truth[name] = f1 * math.sqrt(1 + b)  # the fundamental partial
    json.dump(truth, open(f"{out}/truth.json", "w"))


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def takebox(tb, path, name):
    """The pitch, and the CPU time of the whole `takebox check` process (CPU
    time: the machine is shared, wall time is not the program's)."""
    t0 = cpu_children()
    r = subprocess.run([tb, "check", "--json", "--jobs", "1", "--note", name, path],
                       capture_output=True, text=True)
    dt = cpu_children() - t0
    return json.loads(r.stdout.splitlines()[0]).get("measured_hz"), dt


def librosa_pitch(method, path, planned):
    import librosa
    y, sr = librosa.load(path, sr=None, mono=True)
    # A fifth either side, as takebox; a 512-sample hop (pyin's transition
    # band at the default hop of a long frame is wider than that range).
    fmin, fmax = planned / 1.5, min(planned * 1.5, sr / 2 * 0.95)
    frame = 2048
    while frame < 2.5 * sr / fmin:
        frame *= 2
    t0 = time.process_time()
    if method == "pyin":
        f0, voiced, _ = librosa.pyin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame,
                                     hop_length=512)
        f0 = f0[voiced & np.isfinite(f0)]
    else:
        f0 = librosa.yin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame, hop_length=512)
        rms = librosa.feature.rms(y=y, frame_length=frame, hop_length=512)[0]
        m = min(len(f0), len(rms))
        f0 = f0[:m][rms[:m] > rms.max() * 10 ** (-30 / 20)]
    dt = time.process_time() - t0
    return (float(np.median(f0)) if len(f0) else None), dt


def partial(path, planned):
    """Fundamental partial: the strongest peak near the note in a long DFT."""
    x, sr = sf.read(path)
    if x.ndim > 1:
        x = x.mean(1)
    on = int(np.argmax(np.abs(x) > 0.05 * np.max(np.abs(x))))
    seg = x[on + sr // 20: on + sr // 20 + int(0.35 * sr)]
    seg = seg * np.hanning(len(seg))
    n = 1 << 22
    spec = np.abs(np.fft.rfft(seg, n))
    f = np.fft.rfftfreq(n, 1 / sr)
    band = (f > planned * 2 ** (-60 / 1200)) & (f < planned * 2 ** 1.2)
    return float(f[band][np.argmax(spec[band])])


def cents(a, b):
    return 1200 * math.log2(a / b) if a and b else None


def run(tb, work):
    truth = json.load(open(f"{work}/known/truth.json"))
    rows = {"known": [], "piano": []}
    times = {"takebox": [], "pyin": [], "yin": []}
    for corpus in rows:
        for f in sorted(os.listdir(f"{work}/{corpus}")):
            if not f.endswith(".wav"):
                continue
            name = f[:-4]
            path = f"{work}/{corpus}/{f}"
            planned = hz_of(midi_of(name))
            if corpus == "known":
                ref = truth[name]
            elif midi_of(name) >= 84:
                ref = partial(path, planned)
            else:
                ref = None
            got = {}
            got["takebox"], dt = takebox(tb, path, name)
            times["takebox"].append(dt)
            for m in ["pyin", "yin"]:
                got[m], dt = librosa_pitch(m, path, planned)
                times[m].append(dt)
            rows[corpus].append((name, planned, ref, got))
    methods = ["takebox", "pyin", "yin"]
    for corpus, label in [("known", "known truth (synthetic, realistic)"),
                          ("piano", "Salamander piano, C6..C8 against the fundamental partial")]:
        scored = [r for r in rows[corpus] if r[2]]
        print(f"\n{label}: {len(scored)} notes")
        print(f"{'':10}{'found':>7}{'<=3c':>7}{'<=10c':>7}{'octave':>8}{'median |c|':>12}")
        for m in methods:
            errs = [cents(r[3][m], r[2]) for r in scored]
            found = [e for e in errs if e is not None]
            octave = sum(1 for e in found if abs(e) > 600)
            med = float(np.median([abs(e) for e in found])) if found else float("nan")
            print(f"{m:10}{len(found):7d}{sum(abs(e) <= 3 for e in found):7d}"
                  f"{sum(abs(e) <= 10 for e in found):7d}{octave:8d}{med:12.1f}")
    print("\nSalamander piano, cents from equal temperament (a stretched tuning, no truth):")
    print(f"{'note':6}" + "".join(f"{m:>9}" for m in methods) + f"{'partial':>9}")
    for name, planned, ref, got in sorted(rows["piano"], key=lambda r: midi_of(r[0])):
        cells = "".join(f"{cents(got[m], planned):+9.1f}" if got[m] else f"{'-':>9}" for m in methods)
        print(f"{name:6}{cells}" + (f"{cents(ref, planned):+9.1f}" if ref else f"{'-':>9}"))
    sf.write(f"{work}/empty.wav", np.zeros(480), SR, subtype="PCM_24")
    start = float(np.median([takebox(tb, f"{work}/empty.wav", "A4")[1] for _ in range(20)]))
    print("\nCPU time per 3 s take (ms, median): " + ", ".join(
        f"{m} {1000 * float(np.median(times[m])):.1f}" for m in methods))
    print(f"  takebox: a whole `takebox check` process, of which {1000 * start:.1f} ms start a"
          " process on a 10 ms file; pyin and yin: the call alone, the file loaded")


def midi_file(program, keys):
    """A standard MIDI file: GM `program` (1-based), each key held 2 s, one
    every 3 s after 0.5 s (960 ticks a second)."""
    def vlq(n):
        out = [n & 0x7F]
        n >>= 7
        while n:
            out.insert(0, (n & 0x7F) | 0x80)
            n >>= 7
        return bytes(out)
    ev = vlq(0) + bytes([0xC0, program - 1]) + vlq(480)
    for k in keys:
        ev += bytes([0x90, k, 100]) + vlq(1920) + bytes([0x80, k, 0]) + vlq(960)
    ev += b"\xff\x2f\x00"
    return (b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 1, 0xE0])
            + b"MTrk" + len(ev).to_bytes(4, "big") + ev)


def organ(tb, work):
    """Organs whose waveform repeats below their key (FluidR3's drawbar
    organ two octaves, TimGM6mb's one), rendered by fluidsynth, 3 s a take,
    checked as a MIDI session's recorder does (`--midi`)."""
    keys = [36, 48, 60, 72, 84]
    times, rows = [], []
    for font in ["FluidR3_GM", "TimGM6mb"]:
        for program in [17, 18, 19]:
            mid = f"{work}/organ.mid"
            open(mid, "wb").write(midi_file(program, keys))
            wav = f"{work}/organ.wav"
            subprocess.run(["fluidsynth", "-ni", "-F", wav, "-r", str(SR), "-g", "0.5",
                            f"/usr/share/sounds/sf2/{font}.sf2", mid],
                           check=True, capture_output=True)
            x, _ = sf.read(wav, dtype="float32")
            for i, k in enumerate(keys):
                path = f"{work}/{font}_{program}_{k}.wav"
                sf.write(path, x[i * 3 * SR:(i + 1) * 3 * SR], SR, subtype="PCM_16")
                t0 = cpu_children()
                r = subprocess.run([tb, "check", "--json", "--jobs", "1", "--midi", "--note",
                                    name_of(k), path], capture_output=True, text=True)
                times.append(cpu_children() - t0)
                v = json.loads(r.stdout.splitlines()[0])
                rows.append((font, program, name_of(k), v.get("verdict"), v.get("cents"),
                             v.get("below_key")))
    print("\nOrgans (fluidsynth, GM 17-19 C2..C6), `takebox check --midi`:")
    for font, program, name, verdict, c, below in rows:
        cents_text = f"{c:+.2f}" if c is not None else "-"
        print(f"  {font:11} {program:3} {name:4} {verdict:9} {cents_text:>7} below_key {below}")
    print(f"  CPU time per 3 s take: median {1000 * float(np.median(times)):.1f} ms,"
          f" worst {1000 * max(times):.1f} ms")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "organ":
        organ(sys.argv[2], sys.argv[3])
    else:
        run(sys.argv[2], sys.argv[3])
