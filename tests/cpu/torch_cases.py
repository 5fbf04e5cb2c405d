"""PyTorch models for the cpu backend's checks: small convolutional and linear networks of the
kinds the cpu backend speeds up (residual blocks, depthwise separable blocks with ReLU6/Hardswish,
an MLP), exported to ONNX with dynamic batch and image sizes. The expected outputs are eager
PyTorch's.

cases(workdir) returns a list of (name, model path, [input set, ...], [expected outputs per set]).
Also used by the benchmark notes: `resnet(width, blocks)` is the CIFAR-size ResNet measured there.
"""

import os

import numpy as np


def _modules():
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.sc = None
            if stride != 1 or cin != cout:
                self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            o = torch.relu(self.b1(self.c1(x)))
            o = self.b2(self.c2(o))
            return torch.relu(o + (x if self.sc is None else self.sc(x)))

    class ResNet(nn.Module):
        def __init__(self, w=16, n=3):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
            layers, cin = [], w
            for i, c in enumerate([w, 2 * w, 4 * w]):
                for j in range(n):
                    layers.append(Block(cin, c, 2 if (j == 0 and i > 0) else 1))
                    cin = c
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))

    class MobileBlock(nn.Module):
        def __init__(self, c, e):
            super().__init__()
            self.expand = nn.Sequential(nn.Conv2d(c, c * e, 1, bias=False), nn.BatchNorm2d(c * e), nn.ReLU6())
            self.dw = nn.Sequential(nn.Conv2d(c * e, c * e, 3, 1, 1, groups=c * e, bias=False), nn.BatchNorm2d(c * e),
                                    nn.Hardswish())
            self.project = nn.Sequential(nn.Conv2d(c * e, c, 1, bias=False), nn.BatchNorm2d(c))

        def forward(self, x):
            return x + self.project(self.dw(self.expand(x)))

    class MobileNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU6())
            self.blocks = nn.Sequential(MobileBlock(16, 4), MobileBlock(16, 3))
            self.pool = nn.MaxPool2d(3, 2, 1)
            self.head = nn.Sequential(nn.Conv2d(16, 32, 1), nn.LeakyReLU(0.1))

        def forward(self, x):
            y = self.head(self.pool(self.blocks(self.stem(x))))
            return torch.nn.functional.avg_pool2d(y, 2, ceil_mode=True), y.mean(dim=(2, 3))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(24, 64)
            self.l2 = nn.Linear(64, 64)
            self.l3 = nn.Linear(64, 24)

        def forward(self, x):
            h = torch.tanh(self.l1(x))
            h = torch.sigmoid(self.l2(h)) + h
            return self.l3(torch.nn.functional.elu(h))

    return torch, nn, ResNet, MobileNet, MLP


def _randomize_bn(nn, m):
    g = __import__("torch").Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5, generator=g)
            mod.running_var.uniform_(0.5, 2.0, generator=g)
            mod.weight.data.uniform_(0.5, 1.5, generator=g)
            mod.bias.data.uniform_(-0.2, 0.2, generator=g)
    return m.eval()


def resnet(width=16, blocks=3):
    torch, nn, ResNet, _, _ = _modules()
    torch.manual_seed(0)
    return _randomize_bn(nn, ResNet(width, blocks))


def export(module, example, path, input_names, output_names, dynamic_axes, opset=13):
    import torch
    torch.onnx.export(module, example, path, opset_version=opset, input_names=input_names,
                      output_names=output_names, dynamic_axes=dynamic_axes)


def cases(workdir):
    torch, nn, ResNet, MobileNet, MLP = _modules()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(5)
    out = []
    specs = [
        ("torch_resnet", resnet(8, 2), [(1, 3, 32, 32), (2, 3, 24, 40)], ["x"], ["y"],
         {"x": {0: "N", 2: "H", 3: "W"}, "y": {0: "N"}}),
        ("torch_mobilenet", _randomize_bn(nn, MobileNet()), [(1, 3, 32, 32), (3, 3, 20, 28)], ["x"], ["y", "z"],
         {"x": {0: "N", 2: "H", 3: "W"}, "y": {0: "N", 2: "H2", 3: "W2"}, "z": {0: "N"}}),
        ("torch_mlp", MLP().eval(), [(5, 24), (1, 24)], ["x"], ["y"], {"x": {0: "N"}, "y": {0: "N"}}),
        ("torch_mlp3d", MLP().eval(), [(2, 7, 24), (1, 1, 24)], ["x"], ["y"], {"x": {0: "B", 1: "T"}, "y": {0: "B", 1: "T"}}),
    ]
    for name, module, shapes, ins, outs, dyn in specs:
        d = os.path.join(workdir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        sets = [[rng.standard_normal(s).astype(np.float32)] for s in shapes]
        export(module, tuple(torch.from_numpy(a) for a in sets[0]), path, ins, outs, dyn)
        refs = []
        with torch.no_grad():
            for s in sets:
                r = module(*[torch.from_numpy(a) for a in s])
                r = r if isinstance(r, tuple) else (r,)
                refs.append([t.numpy() for t in r])
        out.append((name, path, sets, refs))
    return out
