// Everything of Ember's autodiff layer in one include.
#pragma once

#include "autodiff/gradcheck.h"
#include "autodiff/ops.h"
#include "autodiff/ops_conv.h"
#include "autodiff/tape.h"
#include "autodiff/tensor.h"
