import time, numpy as np, torch, torchvision.transforms as T
from PIL import Image
torch.set_num_threads(1)
y, x = np.mgrid[0:375, 0:500]
img = Image.fromarray(((np.stack([x*3+y, x+y*5, x*y//7], -1)) % 256).astype(np.uint8))
norm = T.Compose([T.ToTensor(), T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
base = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224)])
pre = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip()])
for name, aug in [("cut", pre), ("augmix", T.Compose([T.AugMix(), T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224)]))]:
    n = 10 if name == "cut" else 3
    t0 = time.time()
    for _ in range(n):
        views = [norm(base(img))] + [norm(aug(img)) for _ in range(63)]
        torch.stack(views)
    dt = (time.time() - t0) / n
    print(f"torchvision {torch.__version__} PIL {Image.__version__} {name}: 64 views {dt*1000:.1f} ms/image, {64/dt:.0f} views/s (1 thread)")
