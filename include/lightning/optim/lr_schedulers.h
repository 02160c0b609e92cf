// lightning/optim/lr_schedulers.h — every learning-rate scheduler.
#pragma once

#include "lightning/optim/constant_lr.h"
#include "lightning/optim/cosine_annealing_lr.h"
#include "lightning/optim/cyclic_lr.h"
#include "lightning/optim/exponential_lr.h"
#include "lightning/optim/lambda_lr.h"
#include "lightning/optim/linear_lr.h"
#include "lightning/optim/lr_scheduler.h"
#include "lightning/optim/multi_step_lr.h"
#include "lightning/optim/one_cycle_lr.h"
#include "lightning/optim/polynomial_lr.h"
#include "lightning/optim/reduce_lr_on_plateau.h"
#include "lightning/optim/sequential_lr.h"
#include "lightning/optim/step_lr.h"
#include "lightning/optim/swalr.h"
