// Everything of Ember's nn layer in one include.
#pragma once

#include "nn/checkpoint.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/lenet.h"
#include "nn/loss.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "nn/recognizers.h"
#include "nn/schedule.h"
