// The optimizers of qtl/optim/ in one include: Adam, AdamW, Lion, SGD with momentum,
// RMSprop and AdaGrad over 32-bit or blockwise 8-bit state (optimizer.hpp), gradient
// clipping and learning-rate schedules. Saving and loading state (optim/checkpoint.hpp)
// needs nlohmann_json and is included on its own.
#pragma once

#include "qtl/optim/adagrad.hpp"
#include "qtl/optim/adam.hpp"
#include "qtl/optim/clip.hpp"
#include "qtl/optim/lion.hpp"
#include "qtl/optim/optimizer.hpp"
#include "qtl/optim/rmsprop.hpp"
#include "qtl/optim/schedule.hpp"
#include "qtl/optim/sgd.hpp"
