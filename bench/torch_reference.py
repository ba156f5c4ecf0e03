#!/usr/bin/env python3
"""The engine's workloads written the way the common PyTorch distillation tutorials write them:
the teacher is recomputed on every batch under no_grad, KL with reduction='batchmean'.

Run with Debian's python3-torch + libopenblas0-pthread. torch.set_num_threads(1) so that OpenBLAS's
own pool gets both cores (two pools fighting cost 3-6x). Prints one `TORCH {json}` line per figure.

  python3 bench/torch_reference.py --pairs mlp,cnn --batches 128,512 --loops teacher,cached,textbook
  python3 bench/torch_reference.py --full-job DATA_DIR   (10 epochs over the files bench/full-job.ts wrote)
"""
import argparse, json, os, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
T, ALPHA = 4.0, 0.9


def build(pair, role):
    if pair == 'mlp' and role == 'teacher':
        return nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(784, 1200), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(1200, 1200), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1200, 10))
    if pair == 'mlp':
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 800), nn.ReLU(), nn.Linear(800, 800), nn.ReLU(), nn.Linear(800, 10))
    if role == 'teacher':
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def forward_flops(model, pair):
    flops, hw = 0, 28
    for m in model:
        if isinstance(m, nn.Linear):
            flops += 2 * m.in_features * m.out_features
        elif isinstance(m, nn.Conv2d):
            flops += 2 * m.in_channels * m.out_channels * 9 * hw * hw
        elif isinstance(m, nn.MaxPool2d):
            hw //= 2
    return flops


def kd_loss(s_logits, t_logits, y):
    soft = F.kl_div(F.log_softmax(s_logits / T, dim=1), F.softmax(t_logits / T, dim=1), reduction='batchmean')
    return (1 - ALPHA) * F.cross_entropy(s_logits, y) + ALPHA * T * T * soft


def make_step(loop, teacher, student):
    opt = torch.optim.Adam((teacher if loop == 'teacher' else student).parameters(), lr=1e-3)

    def run(x, y, cached_t):
        opt.zero_grad()
        if loop == 'teacher':
            teacher.train()
            loss = F.cross_entropy(teacher(x), y)
        else:
            teacher.eval()
            student.train()
            if loop == 'textbook':
                with torch.no_grad():
                    t_logits = teacher(x)
            else:
                t_logits = cached_t
            loss = kd_loss(student(x), t_logits, y)
        loss.backward()
        opt.step()
        return loss
    return run


def micro(args):
    for pair in args.pairs.split(','):
        for batch in map(int, args.batches.split(',')):
            torch.manual_seed(0)
            teacher, student = build(pair, 'teacher'), build(pair, 'student')
            shape = (batch, 784) if pair == 'mlp' else (batch, 1, 28, 28)
            xs = [torch.rand(shape) for _ in range(4)]
            ys = [torch.randint(0, 10, (batch,)) for _ in range(4)]
            with torch.no_grad():
                teacher.eval()
                ts = [teacher(x) for x in xs]
            for loop in args.loops.split(','):
                run = make_step(loop, teacher, student)
                run(xs[0], ys[0], ts[0])
                steps, start = 0, time.perf_counter()
                while steps < 2 or time.perf_counter() - start < args.seconds:
                    i = steps % 4
                    run(xs[i], ys[i], ts[i]).item()
                    steps += 1
                rate = steps * batch / (time.perf_counter() - start)
                tf, sf = forward_flops(teacher, pair), forward_flops(student, pair)
                flops = {'teacher': 3 * tf, 'cached': 3 * sf, 'textbook': tf + 3 * sf}[loop]
                print('TORCH ' + json.dumps({'pair': pair, 'batch': batch, 'loop': loop, 'samplesPerSec': rate,
                                             'gflops': rate * flops / 1e9, 'steps': steps}), flush=True)


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--pairs', default='mlp,cnn')
    p.add_argument('--batches', default='128,512')
    p.add_argument('--loops', default='teacher,cached,textbook')
    p.add_argument('--seconds', type=float, default=2.0)
    p.add_argument('--full-job', default=None)
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--teacher-epochs', type=int, default=2)
    a = p.parse_args()
    if a.full_job:
        from torch_full_job import full_job
        full_job(a.full_job, a.epochs, build, kd_loss, a.teacher_epochs)
    else:
        micro(a)
