"""The weight average (engine.training.loop.WeightAverage, on torch's AveragedModel) follows its formula."""

import torch
from torch import nn

from engine.training.loop import WeightAverage


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 1, 1))


def test_the_average_is_an_ema_with_a_ramped_decay_of_weights_and_batch_norm_statistics():
    model = _model()
    average = WeightAverage(model, max_decay=0.9)
    expected = {name: value.clone().double() for name, value in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for update in range(1, 40):
        model(torch.rand(2, 3, 8, 8)).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        average.update(model)
        decay = min(0.9, (1 + update) / (10 + update))
        for name, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                expected[name] = decay * expected[name] + (1 - decay) * value.double()
            else:
                expected[name] = value.clone().double()
    assert average.updates == 39
    found = average.model.state_dict()
    assert found.keys() == expected.keys()  # the network's own keys: checkpoints load into a plain model
    for name, value in expected.items():
        assert torch.allclose(found[name].double(), value, atol=1e-6), name
    assert int(found["1.num_batches_tracked"]) == 39  # counters are copied, not averaged
    assert not any(p.requires_grad for p in average.model.parameters())


def test_a_resumed_average_continues_the_ramp_where_it_stopped():
    model = _model()
    resumed = WeightAverage(model)
    resumed.updates = 25
    assert resumed.updates == 25
    fresh = WeightAverage(model)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    resumed.update(model)
    fresh.update(model)
    # The 26th update decays by 27/36, so the new weights weigh 9/36; a fresh average's first gives them 9/11.
    moved_resumed = float((resumed.model[0].bias - _model()[0].bias).mean().detach())
    moved_fresh = float((fresh.model[0].bias - _model()[0].bias).mean().detach())
    assert abs(moved_resumed - 9 / 36) < 1e-5
    assert abs(moved_fresh - 9 / 11) < 1e-5
