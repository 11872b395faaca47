"""The classic PyTorch DCGAN tutorial, on grey MNIST at 64x64: the baseline users know.

    python benchmarks/tutorial_dcgan.py --root ROOT --out OUT [--epochs 1] [--batch-size 64]

This is https://pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html with as few changes
as the data needs: ``torchvision.datasets.MNIST`` (torchvision's layout under ``ROOT/MNIST/raw``)
instead of CelebA's image folder, one channel (``nc = 1``) and no centre crop (the digits are
square). Every image is decoded and transformed (Resize, ToTensor, Normalize) by two DataLoader
workers each epoch; the loop is the tutorial's: D on a real batch, then on ``fake = netG(noise)``,
the D step, then the G step on ``netD(fake)`` reusing that fake batch, stats printed every 50
iterations. Like pytorch/examples' ``dcgan/main.py``, it writes what a user keeps: a grid of
``netG(fixed_noise)`` every 100 iterations and at the end, and a checkpoint of both networks and
optimisers after each epoch. ``benchmarks/test_epoch_vs_tutorial.py`` times it against
``ganzoo train dcgan-64``; it imports nothing from ganzoo.

Left out of the tutorial: the loss plot and animation at the end (after training, they do not
change what an epoch costs), ``nn.DataParallel`` (one device here) and
``torch.use_deterministic_algorithms(True)``, which also fills every new tensor's memory and
would only make the baseline slower.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import torch
import torch.nn as nn
import torch.optim as optim
import torch.utils.data
import torchvision.datasets as dset
import torchvision.transforms as transforms
import torchvision.utils as vutils

nc = 1  # number of channels in the training images (grey MNIST)
nz = 100  # size of the latent vector z
ngf = 64  # size of the feature maps in the generator
ndf = 64  # size of the feature maps in the discriminator
image_size = 64
workers = 2
lr = 0.0002
beta1 = 0.5


def weights_init(m: nn.Module) -> None:
    """The tutorial's initialisation: convolutions N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            # state size. (ngf*8) x 4 x 4
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size. (ngf*4) x 8 x 8
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 16 x 16
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # state size. (ngf) x 32 x 32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
            # state size. (nc) x 64 x 64
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            # input is (nc) x 64 x 64
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 32 x 32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 16 x 16
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*4) x 8 x 8
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*8) x 4 x 4
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.main(input)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="folder holding MNIST/raw (torchvision's layout)")
    parser.add_argument("--out", type=Path, required=True, help="where the sample grids and checkpoints go")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    num_epochs, batch_size, device = args.epochs, args.batch_size, torch.device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)

    manualSeed = 999
    random.seed(manualSeed)
    torch.manual_seed(manualSeed)

    dataset = dset.MNIST(root=str(args.root), train=True, download=False,
                         transform=transforms.Compose([
                             transforms.Resize(image_size),
                             transforms.ToTensor(),
                             transforms.Normalize((0.5,), (0.5,)),
                         ]))
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)

    netG = Generator().to(device)
    netG.apply(weights_init)
    netD = Discriminator().to(device)
    netD.apply(weights_init)

    criterion = nn.BCELoss()
    fixed_noise = torch.randn(64, nz, 1, 1, device=device)
    real_label = 1.
    fake_label = 0.
    optimizerD = optim.Adam(netD.parameters(), lr=lr, betas=(beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=lr, betas=(beta1, 0.999))

    G_losses = []
    D_losses = []
    iters = 0

    print("Starting Training Loop...")
    for epoch in range(num_epochs):
        for i, data in enumerate(dataloader, 0):
            ############################
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            ###########################
            ## Train with all-real batch
            netD.zero_grad()
            real_cpu = data[0].to(device)
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), real_label, dtype=torch.float, device=device)
            output = netD(real_cpu).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            ## Train with all-fake batch
            noise = torch.randn(b_size, nz, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            ############################
            # (2) Update G network: maximize log(D(G(z)))
            ###########################
            netG.zero_grad()
            label.fill_(real_label)  # fake labels are real for generator cost
            output = netD(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()

            if i % 50 == 0:
                print("[%d/%d][%d/%d]\tLoss_D: %.4f\tLoss_G: %.4f\tD(x): %.4f\tD(G(z)): %.4f / %.4f"
                      % (epoch, num_epochs, i, len(dataloader), errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))

            G_losses.append(errG.item())
            D_losses.append(errD.item())

            # check how the generator is doing by saving G's output on fixed_noise
            if (iters % 100 == 0) or ((epoch == num_epochs - 1) and (i == len(dataloader) - 1)):
                with torch.no_grad():
                    fake = netG(fixed_noise).detach().cpu()
                vutils.save_image(fake, args.out / f"fake_samples_iter_{iters:06d}.png", padding=2, normalize=True)

            iters += 1

        torch.save({"epoch": epoch, "netG": netG.state_dict(), "netD": netD.state_dict(),
                    "optimizerG": optimizerG.state_dict(), "optimizerD": optimizerD.state_dict()},
                   args.out / f"checkpoint_epoch_{epoch}.pth")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
