package sdfiles

// SchedulerConfig returns the scheduler/scheduler_config.json that goes
// with the file, the one diffusers takes from the default pipeline of the
// file's family: runwayml/stable-diffusion-v1-5's PNDM for v1,
// stabilityai/stable-diffusion-2-1's DDIM with v-prediction for v2 (an SD
// 2.x base model trained at 512×512 predicts ε instead: pass that
// scheduler config yourself).
func (f *SingleFile) SchedulerConfig() []byte {
	if f.Version == "v2" {
		return []byte(sd21Scheduler)
	}
	return []byte(sd15Scheduler)
}

// TokenizerRepo returns where the tokenizer of the file's family lives,
// which a single file does not hold: a hub id and the folder in it
// holding vocab.json and merges.txt (diffusers' choice:
// openai/clip-vit-large-patch14 for v1, stabilityai/stable-diffusion-2-1's
// tokenizer/ for v2).
func (f *SingleFile) TokenizerRepo() (repo, folder string) {
	if f.Version == "v2" {
		return "stabilityai/stable-diffusion-2-1", "tokenizer"
	}
	return "openai/clip-vit-large-patch14", ""
}

const sd15Scheduler = `{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null
}
`

const sd21Scheduler = `{
  "_class_name": "DDIMScheduler",
  "_diffusers_version": "0.8.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "num_train_timesteps": 1000,
  "prediction_type": "v_prediction",
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null
}
`
