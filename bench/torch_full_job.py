"""The complete job in PyTorch as the tutorials write it: a given teacher (trained first, untimed),
then the student distilled for N epochs over 60,000 samples with the teacher run on every batch.
Reads the data bench/full-job.ts wrote (raw float32 images, int32 labels)."""
import json, os, time
import numpy as np
import torch
import torch.nn.functional as F

SAMPLES, BATCH = 60_000, 128


def load(data_dir, name):
    x = np.fromfile(os.path.join(data_dir, f'{name}-x.f32'), dtype='<f4').reshape(-1, 784)
    y = np.fromfile(os.path.join(data_dir, f'{name}-y.i32'), dtype='<i4').astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def epochs_of(n_train, epochs, seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.arange(SAMPLES) % n_train
    for _ in range(epochs):
        order = base[torch.randperm(SAMPLES, generator=g)]
        for i in range(0, SAMPLES, BATCH):
            yield order[i:i + BATCH]


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def full_job(data_dir, epochs, build, kd_loss, teacher_epochs=2):
    torch.manual_seed(0)
    (xtr, ytr), (xte, yte) = load(data_dir, 'train'), load(data_dir, 'test')
    teacher, student = build('mlp', 'teacher'), build('mlp', 'student')
    opt = torch.optim.Adam(teacher.parameters(), lr=1e-3)
    teacher.train()
    for rows in epochs_of(len(ytr), teacher_epochs, 1):
        opt.zero_grad()
        F.cross_entropy(teacher(xtr[rows]), ytr[rows]).backward()
        opt.step()
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    teacher.eval()
    student.train()
    start = time.perf_counter()
    for rows in epochs_of(len(ytr), epochs, 2):
        x, y = xtr[rows], ytr[rows]
        with torch.no_grad():
            t_logits = teacher(x)
        opt.zero_grad()
        kd_loss(student(x), t_logits, y).backward()
        opt.step()
    total = time.perf_counter() - start
    print('FULLJOB ' + json.dumps({'runtime': 'pytorch textbook', 'epochs': epochs, 'samples': SAMPLES, 'batch': BATCH,
                                   'totalSec': total, 'teacherAccuracy': accuracy(teacher, xte, yte),
                                   'studentAccuracy': accuracy(student, xte, yte), 'testSamples': len(yte)}), flush=True)


def phased_job(data_dir, samples, teacher_epochs, epochs, threads, build, alpha=0.7, temperature=4.0):
    """Issue 17's job phase by phase, as the engine runs it: teacher trained, soft targets computed once
    (no_grad, in chunks) and cached, student distilled on them, baseline on hard labels. Same digits
    cycled to `samples`, same recipe. Prints per-phase wall times, CPU seconds and accuracies."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    (xtr, ytr), (xte, yte) = load(data_dir, 'train'), load(data_dir, 'test')
    base = torch.arange(samples) % len(ytr)
    x_all, y_all = xtr[base], ytr[base]
    g = torch.Generator().manual_seed(3)

    def batches(n_epochs):
        for _ in range(n_epochs):
            order = torch.randperm(samples, generator=g)
            for i in range(0, samples, BATCH):
                yield order[i:i + BATCH]

    def train(model, n_epochs, loss_of):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        for rows in batches(n_epochs):
            opt.zero_grad()
            loss_of(model(x_all[rows]), rows).backward()
            opt.step()

    timings, cpu_timings, cpu0, t, c = {}, {}, time.process_time(), time.perf_counter(), time.process_time()

    def lap(name):
        nonlocal t, c
        now, cnow = time.perf_counter(), time.process_time()
        timings[name], cpu_timings[name] = now - t, cnow - c
        t, c = now, cnow

    teacher = build('mlp', 'teacher')
    train(teacher, teacher_epochs, lambda out, rows: F.cross_entropy(out, y_all[rows]))
    lap('training_teacher')
    teacher.eval()
    with torch.no_grad():
        soft = torch.cat([F.softmax(teacher(x_all[i:i + 1024]) / temperature, dim=1) for i in range(0, samples, 1024)])
    lap('computing_soft_targets')
    student = build('mlp', 'student')

    def kd(out, rows):
        kl = F.kl_div(F.log_softmax(out / temperature, dim=1), soft[rows], reduction='batchmean') * temperature * temperature
        return alpha * kl + (1 - alpha) * F.cross_entropy(out, y_all[rows])
    train(student, epochs, kd)
    lap('distilling')
    baseline = build('mlp', 'student')
    train(baseline, epochs, lambda out, rows: F.cross_entropy(out, y_all[rows]))
    lap('training_baseline')
    print('PHASEDJOB ' + json.dumps({'runtime': f'pytorch {torch.__version__}, {threads} thread(s), soft targets cached', 'threads': threads,
                                     'samples': samples, 'teacherEpochs': teacher_epochs, 'epochs': epochs, 'timings': timings, 'cpuTimings': cpu_timings,
                                     'totalSec': sum(timings.values()), 'cpuSec': time.process_time() - cpu0,
                                     'teacherAccuracy': accuracy(teacher, xte, yte), 'studentAccuracy': accuracy(student, xte, yte),
                                     'baselineAccuracy': accuracy(baseline, xte, yte)}), flush=True)


if __name__ == '__main__':
    import argparse, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_reference import build as build_model
    p = argparse.ArgumentParser(description='Issue 17 complete job in PyTorch, phase by phase (data from bench/full-job.ts --write-data).')
    p.add_argument('data_dir')
    p.add_argument('--samples', type=int, default=SAMPLES)
    p.add_argument('--teacher-epochs', type=int, default=5)
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args()
    phased_job(a.data_dir, a.samples, a.teacher_epochs, a.epochs, a.threads, build_model)
