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
